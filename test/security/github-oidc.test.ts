// Attack: get a project token out of POST /v1/auth/github-oidc without a genuine GitHub ID
// token for a trusted repository, or use one beyond what it was given. The forgeries are the
// classic JWT ones: HMAC keyed with the issuer's public key, no signature at all, a key carried
// in the token itself or fetched from where the token says; then a key the issuer retired, and a
// genuine token aimed at another tenant's project. The server here is configured the explicit way
// (key set URL, audience of its own, keys never cached) that the main tests leave to defaults.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportSPKI, importJWK, SignJWT, type CryptoKey } from "jose";
import { CapyApiError, CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { githubClaims, newSigningKey, startOidcIssuer, type OidcIssuer, type SigningKey } from "../harness/oidc-issuer.js";

const AUDIENCE = "capydb-ci";
let t: TestServer;
let issuer: OidcIssuer;
let attacker: http.Server;
let attackerUrl: string;
let attackerRequests = 0;
let attackerKey: SigningKey;
let anonymous: CapyClient;
const clients: CapyClient[] = [];

const now = () => Math.floor(Date.now() / 1000);
const exchange = (token: string, projectId: string) => anonymous.exchangeGitHubOidcToken({ token, project_id: projectId });

/** The status and message of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  if (!(err instanceof CapyApiError)) throw err;
  return { status: err.status, message: err.message };
}

/** A signed token with any header the attacker likes. */
function forge(header: Record<string, unknown>, key: Parameters<SignJWT["sign"]>[0]): Promise<string> {
  return new SignJWT(githubClaims())
    .setProtectedHeader(header as { alg: string })
    .setIssuer(issuer.url)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  attackerKey = await newSigningKey("attacker");
  // the attacker's own key server: the test fails if the server ever asks it anything
  attacker = http.createServer((_req, res) => {
    attackerRequests++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [attackerKey.publicJwk] }));
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  t = await startTestServer({
    CAPYDB_GITHUB_OIDC_ISSUER: issuer.url,
    CAPYDB_GITHUB_OIDC_JWKS_URL: `${issuer.url}/.well-known/jwks`,
    CAPYDB_GITHUB_OIDC_AUDIENCE: AUDIENCE,
    CAPYDB_GITHUB_OIDC_JWKS_CACHE_SECONDS: "0",
    CAPYDB_OIDC_TOKEN_TTL_SECONDS: "120",
  });
  anonymous = new CapyClient({ baseUrl: t.url, retries: 0 });
}, 120_000);

afterAll(async () => {
  for (const c of [...clients, anonymous]) await c?.close();
  await t?.stop();
  await issuer?.stop();
  await new Promise((resolve) => attacker?.close(resolve));
});

describe("GitHub OIDC exchange under attack", () => {
  it("refuses forged tokens, and never fetches a key from where a token says", async () => {
    const { client: org } = await organization(t, "Forged");
    const projectId = (await org.createProject({ name: "target" })).project.id;
    await org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo" });
    clients.push(org);
    // the genuine article works: the configured audience, the configured key set
    expect((await exchange(await issuer.sign(githubClaims(), { audience: AUDIENCE }), projectId)).project_id).toBe(projectId);
    // ...and only that audience (not the server's own URL, the default when none is configured)
    expect(await refusal(exchange(await issuer.sign(githubClaims(), { audience: t.url }), projectId))).toMatchObject({
      status: 401,
      message: /wrong audience/,
    });

    const publicPem = await exportSPKI((await importJWK(issuer.key.publicJwk, "RS256")) as CryptoKey);
    const unsigned = [{ alg: "none" }, { ...githubClaims(), iss: issuer.url, aud: AUDIENCE, iat: now(), exp: now() + 300 }]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .join(".")
      .concat(".");
    const forgeries: Array<[string, string]> = [
      // alg confusion: a verifier that takes "the key" for HMAC would check this with the public key
      ["HS256 keyed with the issuer's public key (PEM)", await forge({ alg: "HS256", kid: issuer.key.kid }, new TextEncoder().encode(publicPem))],
      [
        "HS256 keyed with the issuer's public key (JWK)",
        await forge({ alg: "HS256", kid: issuer.key.kid }, new TextEncoder().encode(JSON.stringify(issuer.key.publicJwk))),
      ],
      ["no signature (alg none)", unsigned],
      ["the attacker's key embedded in the header (jwk)", await forge({ alg: "RS256", jwk: attackerKey.publicJwk }, attackerKey.privateKey)],
      ["a key set of the attacker's (jku)", await forge({ alg: "RS256", kid: "attacker", jku: `${attackerUrl}/jwks` }, attackerKey.privateKey)],
      ["a certificate of the attacker's (x5u)", await forge({ alg: "RS256", kid: "attacker", x5u: `${attackerUrl}/cert.pem` }, attackerKey.privateKey)],
      ["the attacker's key under the issuer's kid", await forge({ alg: "RS256", kid: issuer.key.kid }, attackerKey.privateKey)],
    ];
    for (const [what, token] of forgeries) {
      const answer = await refusal(exchange(token, projectId));
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
      expect(answer.message, what).toMatch(/^token: /);
    }
    expect(attackerRequests).toBe(0);
  });

  it("follows the issuer's key rotation: a new key is fetched, a retired one refused", async () => {
    const { client: org } = await organization(t, "Rotation");
    clients.push(org);
    const projectId = (await org.createProject({ name: "rotating" })).project.id;
    await org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo" });
    const next = await newSigningKey("next");
    issuer.publish([issuer.key, next]);
    const withNext = await issuer.sign(githubClaims(), { audience: AUDIENCE, key: next });
    const withOld = await issuer.sign(githubClaims(), { audience: AUDIENCE });
    await exchange(withNext, projectId);
    await exchange(withOld, projectId);
    issuer.publish([next]);
    expect(await refusal(exchange(withOld, projectId))).toEqual({ status: 401, message: "token: is signed with a key the issuer does not publish" });
    await exchange(withNext, projectId);
    issuer.publish([issuer.key]);
  });

  it("a genuine token opens only the project that trusts its repository, for the configured time", async () => {
    const a = await organization(t, "Trusting");
    const b = await organization(t, "Victim");
    clients.push(a.client, b.client);
    const mine = (await a.client.createProject({ name: "mine" })).project.id;
    const victim = await b.client.createProject({ name: "victim" });
    await a.client.createTrustPolicy(mine, { repository: "octo-org/octo-repo" });
    await b.client.createTrustPolicy(victim.project.id, { repository: "victim-org/app" });

    // the same ID token, aimed at the other organization's project
    expect(await refusal(exchange(await issuer.sign(githubClaims(), { audience: AUDIENCE }), victim.project.id))).toEqual({
      status: 403,
      message: "repository: octo-org/octo-repo is not trusted by this project",
    });
    const before = Date.now();
    const answer = await exchange(await issuer.sign(githubClaims(), { audience: AUDIENCE, exp: now() + 3600 }), mine);
    expect(Date.parse(answer.expires_at)).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(Date.parse(answer.expires_at)).toBeGreaterThanOrEqual(before + 120_000 - 1000);
    const ci = new CapyClient({ baseUrl: t.url, apiKey: answer.access_token, retries: 0 });
    clients.push(ci);
    // the token used against the other organization: as if nothing were there
    expect((await refusal(ci.getProject(victim.project.id))).status).toBe(404);
    expect((await refusal(ci.getJob(victim.job.id))).status).toBe(404);
    expect((await refusal(ci.createPreview(victim.project.id, { name: "x" }))).status).toBe(404);
    expect((await refusal(ci.listPreviews(victim.project.id))).status).toBe(404);
    // a GitHub ID token is no bearer token of this API, and an access token no ID token
    const idTokenHolder = new CapyClient({ baseUrl: t.url, apiKey: await issuer.sign(githubClaims(), { audience: AUDIENCE }), retries: 0 });
    clients.push(idTokenHolder);
    expect((await refusal(idTokenHolder.getProject(mine))).status).toBe(401);
    expect((await refusal(exchange(answer.access_token, mine))).message).toMatch(/^token: is not a JWT/);
  });
});
