// The composition root of the HTTP API: Fastify, authentication, every resource's routes, error mapping.
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { buildOpenApiDocument, endpoints, routePath } from "@capydb/api";
import type { AppContext } from "./context.js";
import { Authenticator, requestedByOf, requireAdmin } from "./http/auth.js";
import { createClerkVerifier } from "./http/clerk.js";
import { clientErrorHandler } from "./http/client-errors.js";
import { HttpError, errorBody, notImplemented } from "./http/errors.js";
import { createMetrics } from "./http/metrics.js";
import { PROVIDER_MIRROR_ROUTE, PROVIDER_RELEASE_ROUTE, providerMirrorRoutes } from "./http/provider-mirror.js";
import { isDatabaseUnavailable } from "./platform/store/db.js";
import { scrubSecrets } from "./platform/jobs/scrub.js";
import { projectRoutes } from "./projects/routes.js";
import { extensionRoutes } from "./extensions/routes.js";
import { organizationRoutes } from "./organizations/routes.js";
import { jobRoutes } from "./jobs/routes.js";
import { previewRoutes } from "./previews/routes.js";
import { backupRoutes } from "./backups/routes.js";
import { importRoutes } from "./imports/routes.js";
import { maskingRoutes } from "./masking/routes.js";
import { schemaDiffRoutes } from "./schemadiffs/routes.js";
import { cutoverRoutes } from "./cutovers/routes.js";
import { GITHUB_OIDC_EXCHANGE_ROUTE, trustPolicyRoutes } from "./trustpolicies/routes.js";
import { withinRequestScope, type RequestScope } from "./platform/requested-by.js";
import { DOCS_ROUTES, docsRoutes } from "./http/docs.js";

// Upload PUTs are authenticated by their URL's signature instead of a bearer token, the
// GitHub OIDC exchange by the GitHub ID token in its body.
// /metrics is not public: it reports platform-wide figures (see its route).
// The Terraform provider's mirror and release files are public, like the provider itself.
const PUBLIC_ROUTES = new Set([
  "/healthz",
  "/v1/openapi.json",
  "/v1/uploads/*",
  GITHUB_OIDC_EXCHANGE_ROUTE,
  PROVIDER_MIRROR_ROUTE,
  PROVIDER_RELEASE_ROUTE,
  ...DOCS_ROUTES,
]);

export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: ctx.config.logLevel },
    bodyLimit: ctx.config.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: ctx.config.logLevel !== "debug" && ctx.config.logLevel !== "trace" }),
    return503OnClosing: true,
    // Router-level errors (over-long or malformed path parameters) answer in our error shape too.
    frameworkErrors: (err, _req, res) => {
      const reply = res as unknown as { code(n: number): { send(body: unknown): void } };
      if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return reply.code(414).send(errorBody(414, "path: a path parameter is too long"));
      if (err.code === "FST_ERR_BAD_URL") return reply.code(400).send(errorBody(400, "path: malformed URL encoding"));
      const status = err.statusCode ?? 400;
      return reply.code(status).send(errorBody(status, "bad request"));
    },
    clientErrorHandler,
    forceCloseConnections: true,
    // HTTPS when CAPYDB_TLS_CERT_FILE / CAPYDB_TLS_KEY_FILE are set (config.ts read and checked them).
    ...(ctx.config.tls ? { https: { cert: ctx.config.tls.cert, key: ctx.config.tls.key } } : {}),
  });

  // Our own JSON parser: an empty body is "no fields" rather than an error. JSON only: a text
  // body answers 415 like any other non-JSON one (uploads have a parser of their own).
  app.removeContentTypeParser("application/json");
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new HttpError(400, "body: is not valid JSON"), undefined);
    }
  });

  const c = ctx.config.clerk;
  const clerk =
    c.jwksUrl || c.publicKeyPem
      ? createClerkVerifier({
          jwksUrl: c.jwksUrl ?? undefined,
          publicKeyPem: c.publicKeyPem ?? undefined,
          issuer: c.issuer ?? undefined,
          authorizedParties: c.authorizedParties,
        })
      : null;
  const auth = new Authenticator(ctx.db, clerk, ctx.apiKeyCache);
  const metrics = createMetrics(ctx.db, { refreshSeconds: ctx.config.metricsRefreshSeconds });
  const openapi = buildOpenApiDocument({ bodyLimitBytes: ctx.config.bodyLimitBytes, uploadMaxBytes: ctx.config.uploadMaxBytes });

  app.addHook("onRequest", async (req) => {
    (req as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    const route = req.routeOptions.url;
    if (route && PUBLIC_ROUTES.has(route)) return;
    if (!route) return; // unknown route: the not-found handler answers
    req.principal = await auth.authenticate(req);
  });
  // Endpoints that take no body refuse one rather than silently ignore it.
  const bodyless = new Set(endpoints.filter((e) => !e.body && !e.public).map((e) => `${e.method} ${e.route ?? routePath(e.path)}`));
  app.addHook("preHandler", async (req) => {
    if (!bodyless.has(`${req.method} ${req.routeOptions.url}`)) return;
    const body = req.body;
    const empty = body === undefined || body === null || (typeof body === "object" && !Array.isArray(body) && Object.keys(body).length === 0);
    if (!empty) throw new HttpError(400, "body: this endpoint takes no body");
  });
  // The rest of the request runs in a scope naming its caller: the jobs and previews it makes
  // record who asked (platform/requested-by.ts). Opened here, after the body was read: Node's
  // stream events that deliver the body do not carry an asynchronous context along.
  app.addHook("preHandler", (req, _reply, done) => {
    if (!req.principal) return done();
    const scope: RequestScope = { requestedBy: requestedByOf(req.principal) };
    (req as { requestScope?: RequestScope }).requestScope = scope;
    withinRequestScope(scope, done);
  });
  app.addHook("onResponse", async (req, reply) => {
    // work the request left running (none should) is not the caller's from here on
    const scope = (req as { requestScope?: RequestScope }).requestScope;
    if (scope) scope.requestedBy = null;
    const started = (req as { startedAt?: bigint }).startedAt;
    if (started) metrics.observe(req.method, req.routeOptions.url ?? "unknown", reply.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message, err.code));
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return reply.code(413).send(errorBody(413, `body: larger than the ${ctx.config.bodyLimitBytes}-byte limit`));
    if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return reply.code(415).send(errorBody(415, "body: send Content-Type: application/json"));
    if (isDatabaseUnavailable(err)) {
      return reply.code(503).header("retry-after", "2").send(errorBody(503, "the control-plane database is unavailable; retry shortly"));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody(err.statusCode, scrubSecrets(err.message)));
    }
    req.log.error({ err: scrubSecrets(err.stack ?? err.message) }, "unhandled error");
    return reply.code(500).send(errorBody(500, "internal error"));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody(404, `no such endpoint: ${req.method} ${req.url.split("?")[0].slice(0, 200)}`, "endpoint_not_found"));
  });

  app.get("/healthz", async (_req, reply) => {
    try {
      await ctx.db.query("SELECT 1");
      // which data-plane engine new projects get, and whether its copies are copy-on-write
      return { status: "ok", data_plane: { engine: ctx.instances ? "instances" : "shared", clone_method: ctx.instances?.host.cloneMethod ?? null } };
    } catch {
      reply.code(503);
      return errorBody(503, "the control-plane database is unavailable");
    }
  });
  // Platform-wide job counts and traffic: for the operator's Prometheus, which sends a
  // platform-admin key (`authorization: { credentials_file: … }`). Tenants' keys get the 403
  // of every operator endpoint; without a key, 401.
  app.get("/metrics", async (req, reply) => {
    requireAdmin(req.principal!);
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get("/v1/openapi.json", async () => openapi);
  // the API reference over it, for people (public like the document)
  docsRoutes(app);

  projectRoutes(app, ctx);
  extensionRoutes(app, ctx);
  organizationRoutes(app, ctx);
  jobRoutes(app, ctx);
  previewRoutes(app, ctx);
  backupRoutes(app, ctx);
  importRoutes(app, ctx);
  cutoverRoutes(app, ctx);
  maskingRoutes(app, ctx);
  schemaDiffRoutes(app, ctx);
  trustPolicyRoutes(app, ctx);
  providerMirrorRoutes(app, ctx.config.providerReleaseDir);

  // Endpoints of the catalogue that a later version implements answer 501 (after auth).
  await app.after(); // routes of encapsulated plugins are known only once they have loaded
  for (const e of endpoints) {
    const url = e.route ?? routePath(e.path);
    if (!app.hasRoute({ method: e.method, url })) {
      app.route({
        method: e.method,
        url,
        handler: async () => {
          throw notImplemented(`${e.method} ${e.path} is not implemented yet in this version of CapyDB`);
        },
      });
    }
  }
  return app;
}
