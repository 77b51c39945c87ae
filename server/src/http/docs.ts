// The API reference at GET /docs: Swagger UI over the served OpenAPI document (/v1/openapi.json).
// Its assets come from the swagger-ui-dist package and are served from here: the page fetches
// nothing from anywhere else, and its Content-Security-Policy says so to the browser.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { FastifyInstance } from "fastify";

// Everything from 'self'. Images may also be data: URIs, which Swagger UI's stylesheet embeds
// (nothing is fetched for them); no inline script, no plugin, no framing.
export const DOCS_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

// Relative URLs: the page works behind a reverse proxy that mounts the API under a path prefix.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>CapyDB API reference</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// The document's URL relative to this script's (…/docs/init.js → …/v1/openapi.json). No
// validator badge (it would send the document to validator.swagger.io), no URL box.
const INIT = `(function () {
  var spec = new URL("../v1/openapi.json", document.currentScript.src).href;
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  });
})();
`;

/** The files of swagger-ui-dist the page uses, by the name served under /docs/. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** The routes this module serves: public, like the document itself. */
export const DOCS_ROUTES = ["/docs", "/docs/", "/docs/init.js", ...Object.keys(ASSETS).map((name) => `/docs/${name}`)];

function swaggerUiDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

export function docsRoutes(app: FastifyInstance): void {
  const dir = swaggerUiDir();
  const cache = new Map<string, Buffer>();
  const read = (name: string): Buffer => {
    let data = cache.get(name);
    if (!data) cache.set(name, (data = fs.readFileSync(path.join(dir, name))));
    return data;
  };

  app.get("/docs", async (_req, reply) => {
    reply.header("content-type", "text/html; charset=utf-8");
    reply.header("content-security-policy", DOCS_CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("cache-control", "no-cache");
    return PAGE;
  });
  // the page's references are relative to /docs: /docs/ sends the browser there
  app.get("/docs/", async (_req, reply) => reply.redirect("../docs", 301));
  app.get("/docs/init.js", async (_req, reply) => {
    reply.header("content-type", "text/javascript; charset=utf-8");
    reply.header("x-content-type-options", "nosniff");
    reply.header("cache-control", "no-cache");
    return INIT;
  });
  for (const [name, type] of Object.entries(ASSETS)) {
    app.get(`/docs/${name}`, async (_req, reply) => {
      reply.header("content-type", type);
      reply.header("x-content-type-options", "nosniff");
      reply.header("cache-control", "public, max-age=3600");
      return read(name);
    });
  }
}
