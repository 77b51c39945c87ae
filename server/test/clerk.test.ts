import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWK, type JWTPayload } from "jose";
import { ClerkTokenError, createClerkVerifier, looksLikeJwt, type ClerkConfig } from "../src/http/clerk.js";

const ISSUER = "https://clerk.capydb.test";
const ORIGIN = "https://app.capydb.test";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let main: KeyPair;
let other: KeyPair;
let rotated: KeyPair;
let mainPem: string;

const now = () => Math.floor(Date.now() / 1000);

function sign(
  key: KeyPair["privateKey"],
  claims: JWTPayload = {},
  opts: { kid?: string; iat?: number; exp?: number | null; nbf?: number; iss?: string } = {},
): Promise<string> {
  const jwt = new SignJWT({ azp: ORIGIN, sid: "sess_1", ...claims })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: opts.kid ?? "main" })
    .setIssuer(opts.iss ?? ISSUER)
    .setSubject("user_1")
    .setIssuedAt(opts.iat ?? now() - 10);
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 60);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key);
}

function pemVerifier(overrides: Partial<ClerkConfig> = {}) {
  return createClerkVerifier({ publicKeyPem: mainPem, issuer: ISSUER, authorizedParties: [ORIGIN], ...overrides });
}

async function rejects(promise: Promise<unknown>, message: string | RegExp, code = "invalid_token") {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClerkTokenError);
  const e = err as ClerkTokenError;
  if (typeof message === "string") expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
  expect(e.code).toBe(code);
  return e;
}

beforeAll(async () => {
  [main, other, rotated] = await Promise.all([
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("RS256", { extractable: true }),
  ]);
  mainPem = await exportSPKI(main.publicKey);
});

describe("createClerkVerifier configuration", () => {
  it("throws when neither jwksUrl nor publicKeyPem is configured", () => {
    expect(() => createClerkVerifier({ authorizedParties: [] })).toThrow(/jwksUrl or publicKeyPem/);
    expect(() => createClerkVerifier({ authorizedParties: [], jwksUrl: "  ", publicKeyPem: "" })).toThrow();
  });

  it("throws on an unusable PEM or URL", () => {
    expect(() => createClerkVerifier({ authorizedParties: [], publicKeyPem: "not a pem" })).toThrow(/PEM/);
    expect(() => createClerkVerifier({ authorizedParties: [], jwksUrl: "not a url" })).toThrow(/URL/);
  });

  it("accepts a PEM whose newlines are escaped (as in env vars)", async () => {
    const v = createClerkVerifier({ publicKeyPem: mainPem.replace(/\n/g, "\\n"), authorizedParties: [] });
    await expect(v.verify(await sign(main.privateKey))).resolves.toMatchObject({ userId: "user_1" });
  });
});

describe("looksLikeJwt", () => {
  it("recognizes JWT-shaped strings only", async () => {
    expect(looksLikeJwt(await sign(main.privateKey))).toBe(true);
    expect(looksLikeJwt(new UnsecuredJWT({ sub: "x" }).encode())).toBe(true);
    expect(looksLikeJwt("capy_sk_abcdef")).toBe(false);
    expect(looksLikeJwt("a.b.c")).toBe(false); // header is not JSON
    expect(looksLikeJwt(`${Buffer.from('{"typ":"JWT"}').toString("base64url")}.e30.sig`)).toBe(false); // no alg
    expect(looksLikeJwt(`${Buffer.from('{"alg":"RS256"}').toString("base64url")}.e30`)).toBe(false); // 2 parts
    expect(looksLikeJwt(`${Buffer.from('{"alg":"RS256"}').toString("base64url")}.e3+0.sig`)).toBe(false);
    expect(looksLikeJwt("")).toBe(false);
  });
});

describe("verification with a PEM public key", () => {
  it("accepts a v2 token and reads the organization from o.id", async () => {
    const token = await sign(main.privateKey, { v: 2, o: { id: "org_2", rol: "admin", slg: "capy" } });
    await expect(pemVerifier().verify(token)).resolves.toEqual({
      userId: "user_1",
      clerkOrganizationId: "org_2",
      sessionId: "sess_1",
    });
  });

  it("accepts a v1 token and reads the organization from org_id", async () => {
    const token = await sign(main.privateKey, { org_id: "org_1", org_role: "org:admin" });
    await expect(pemVerifier().verify(token)).resolves.toEqual({
      userId: "user_1",
      clerkOrganizationId: "org_1",
      sessionId: "sess_1",
    });
  });

  it("returns a null organization when the token has none", async () => {
    const token = await sign(main.privateKey, { v: 2, sid: undefined });
    const identity = await pemVerifier().verify(token);
    expect(identity.clerkOrganizationId).toBeNull();
    expect(identity.sessionId).toBeNull();
  });

  it("rejects an expired token (beyond the clock tolerance) but tolerates small skew", async () => {
    const expired = await sign(main.privateKey, {}, { iat: now() - 120, exp: now() - 30 });
    const e = await rejects(pemVerifier().verify(expired), "session token expired");
    expect(e.message).not.toContain(expired);
    const justExpired = await sign(main.privateKey, {}, { iat: now() - 120, exp: now() - 2 });
    await expect(pemVerifier().verify(justExpired)).resolves.toMatchObject({ userId: "user_1" });
    await rejects(pemVerifier({ clockToleranceSec: 0 }).verify(justExpired), "session token expired");
  });

  it("rejects a token without exp", async () => {
    await rejects(pemVerifier().verify(await sign(main.privateKey, {}, { exp: null })), "session token has no expiry");
  });

  it("rejects a token whose nbf is in the future", async () => {
    const token = await sign(main.privateKey, {}, { nbf: now() + 60 });
    await rejects(pemVerifier().verify(token), "session token is not yet valid");
  });

  it("rejects a wrong issuer, and skips the check when no issuer is configured", async () => {
    const token = await sign(main.privateKey, {}, { iss: "https://evil.example" });
    await rejects(pemVerifier().verify(token), "session token issuer is not trusted");
    await expect(pemVerifier({ issuer: undefined }).verify(token)).resolves.toMatchObject({ userId: "user_1" });
  });

  it("rejects an azp that is not an allowed origin", async () => {
    const token = await sign(main.privateKey, { azp: "https://evil.example" });
    await rejects(pemVerifier().verify(token), 'session token azp "https://evil.example" is not an allowed origin');
    await expect(pemVerifier({ authorizedParties: ["https://other.test", `${ORIGIN}/`] }).verify(await sign(main.privateKey))).resolves.toMatchObject({
      userId: "user_1",
    });
  });

  it("requires azp when authorizedParties is set, and ignores it when empty", async () => {
    const token = await sign(main.privateKey, { azp: undefined });
    await rejects(pemVerifier().verify(token), "session token has no azp claim");
    await expect(pemVerifier({ authorizedParties: [] }).verify(token)).resolves.toMatchObject({ userId: "user_1" });
  });

  it("requires sub", async () => {
    const token = await new SignJWT({ azp: ORIGIN })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(ISSUER)
      .setExpirationTime(now() + 60)
      .sign(main.privateKey);
    await rejects(pemVerifier().verify(token), "session token has no subject");
  });

  it("rejects a token signed by another key", async () => {
    const forged = await sign(other.privateKey);
    await rejects(pemVerifier().verify(forged), "session token signature is invalid");
  });

  it("rejects a token whose payload was tampered with", async () => {
    const [h, , s] = (await sign(main.privateKey)).split(".");
    const payload = Buffer.from(JSON.stringify({ sub: "user_admin", iss: ISSUER, azp: ORIGIN, exp: now() + 60 })).toString("base64url");
    await rejects(pemVerifier().verify(`${h}.${payload}.${s}`), "session token signature is invalid");
  });

  it("rejects an HS256 token signed with a secret (including the PEM as the secret)", async () => {
    for (const secret of [new TextEncoder().encode("x".repeat(64)), new TextEncoder().encode(mainPem)]) {
      const token = await new SignJWT({ azp: ORIGIN })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer(ISSUER)
        .setSubject("user_1")
        .setExpirationTime(now() + 60)
        .sign(secret);
      await rejects(pemVerifier().verify(token), "unsupported session token algorithm");
    }
  });

  it("rejects alg none", async () => {
    const token = new UnsecuredJWT({ azp: ORIGIN }).setIssuer(ISSUER).setSubject("user_1").setExpirationTime("1m").encode();
    await rejects(pemVerifier().verify(token), "unsupported session token algorithm");
  });

  it("rejects other asymmetric algorithms", async () => {
    const ps = await generateKeyPair("PS256");
    const token = await new SignJWT({ azp: ORIGIN })
      .setProtectedHeader({ alg: "PS256" })
      .setIssuer(ISSUER)
      .setSubject("user_1")
      .setExpirationTime(now() + 60)
      .sign(ps.privateKey);
    await rejects(pemVerifier().verify(token), "unsupported session token algorithm");
  });

  it("rejects malformed tokens", async () => {
    await rejects(pemVerifier().verify("capy_sk_123"), "session token is malformed");
    await rejects(pemVerifier().verify("a.b.c"), "session token is malformed");
    const [h, , s] = (await sign(main.privateKey)).split(".");
    await rejects(pemVerifier().verify(`${h}.${Buffer.from("not json").toString("base64url")}.${s}`), /malformed|signature/);
  });
});

describe("verification with a JWKS endpoint", () => {
  let server: Server;
  let jwksUrl: string;
  let keys: JWK[] = [];
  let requests = 0;
  let failWith: number | null = null;

  const jwkOf = async (pair: KeyPair, kid: string): Promise<JWK> => ({
    ...(await exportJWK(pair.publicKey)),
    kid,
    alg: "RS256",
    use: "sig",
  });

  beforeAll(async () => {
    keys = [await jwkOf(main, "main")];
    server = createServer((_req, res) => {
      requests++;
      if (failWith !== null) {
        res.writeHead(failWith).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const jwksVerifier = (overrides: Partial<ClerkConfig> = {}) => createClerkVerifier({ jwksUrl, issuer: ISSUER, authorizedParties: [ORIGIN], ...overrides });

  it("verifies tokens and caches the key set", async () => {
    const v = jwksVerifier();
    const before = requests;
    const token = await sign(main.privateKey, { v: 2, o: { id: "org_9", rol: "member" } });
    await expect(v.verify(token)).resolves.toEqual({ userId: "user_1", clerkOrganizationId: "org_9", sessionId: "sess_1" });
    await expect(v.verify(await sign(main.privateKey, { org_id: "org_8" }))).resolves.toMatchObject({
      clerkOrganizationId: "org_8",
    });
    expect(requests - before).toBe(1);
  });

  it("rejects forged tokens (same kid, other key) and unknown kids without refetching during the cooldown", async () => {
    const v = jwksVerifier();
    await v.verify(await sign(main.privateKey));
    const before = requests;
    await rejects(v.verify(await sign(other.privateKey, {}, { kid: "main" })), "session token signature is invalid");
    await rejects(v.verify(await sign(other.privateKey, {}, { kid: "unknown" })), "session token signing key is not recognized");
    await rejects(v.verify(await sign(other.privateKey, {}, { kid: "unknown2" })), "session token signing key is not recognized");
    expect(requests).toBe(before);
  });

  it("picks up a rotated key: a token with a new kid verifies after the JWKS changes", async () => {
    const v = jwksVerifier({ jwksCooldownMs: 0 });
    await expect(v.verify(await sign(main.privateKey))).resolves.toMatchObject({ userId: "user_1" });
    const oldKeys = keys;
    try {
      keys = [await jwkOf(rotated, "rotated"), await jwkOf(main, "main")];
      const before = requests;
      const token = await sign(rotated.privateKey, { o: { id: "org_r" } }, { kid: "rotated" });
      await expect(v.verify(token)).resolves.toMatchObject({ userId: "user_1", clerkOrganizationId: "org_r" });
      expect(requests - before).toBe(1);
      // Tokens from the previous key keep verifying while it is still published.
      await expect(v.verify(await sign(main.privateKey))).resolves.toMatchObject({ userId: "user_1" });
    } finally {
      keys = oldKeys;
    }
  });

  it("rejects HS256 and alg none without fetching the JWKS", async () => {
    const v = jwksVerifier();
    const before = requests;
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "main" })
      .setSubject("user_1")
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode("s".repeat(32)));
    await rejects(v.verify(hs), "unsupported session token algorithm");
    await rejects(v.verify(new UnsecuredJWT({ sub: "user_1" }).encode()), "unsupported session token algorithm");
    expect(requests).toBe(before);
  });

  it("reports an unreachable or failing JWKS as keys_unavailable", async () => {
    failWith = 500;
    try {
      const e = await rejects(
        jwksVerifier().verify(await sign(main.privateKey)),
        "unable to verify session token: signing keys unavailable",
        "keys_unavailable",
      );
      expect(e.cause).toBeDefined();
    } finally {
      failWith = null;
    }
  });
});
