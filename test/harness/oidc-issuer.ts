// A stand-in for GitHub's OIDC issuer on 127.0.0.1: its discovery document and its key set
// (JWKS), and ID tokens signed with its key (RS256, jose) carrying GitHub's claim set. Tests
// also sign with keys it does not publish, or publish another key, to play forger and rotation.
import http from "node:http";
import type { AddressInfo } from "node:net";
import crypto from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newSigningKey(kid = `k-${crypto.randomBytes(4).toString("hex")}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** The claims GitHub puts in an Actions ID token, for a pull_request run of octo-org/octo-repo (override any). */
export function githubClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const repository = (overrides.repository as string | undefined) ?? "octo-org/octo-repo";
  const ref = (overrides.ref as string | undefined) ?? "refs/pull/7/merge";
  const event = (overrides.event_name as string | undefined) ?? "pull_request";
  return {
    jti: crypto.randomUUID(),
    sub: event === "pull_request" ? `repo:${repository}:pull_request` : `repo:${repository}:ref:${ref}`,
    ref,
    sha: "0123456789abcdef0123456789abcdef01234567",
    repository,
    repository_owner: repository.split("/")[0],
    repository_owner_id: "1001",
    repository_id: "4242",
    repository_visibility: "private",
    run_id: "555",
    run_number: "12",
    run_attempt: "1",
    actor: "octocat",
    actor_id: "77",
    workflow: "Preview database",
    head_ref: "feature/email",
    base_ref: "main",
    event_name: event,
    ref_type: "branch",
    ref_protected: "false",
    workflow_ref: `${repository}/.github/workflows/preview.yml@${ref}`,
    workflow_sha: "0123456789abcdef0123456789abcdef01234567",
    job_workflow_ref: `${repository}/.github/workflows/preview.yml@${ref}`,
    job_workflow_sha: "0123456789abcdef0123456789abcdef01234567",
    runner_environment: "github-hosted",
    ...overrides,
  };
}

export interface TokenOptions {
  audience: string;
  /** Default: the issuer's own URL. */
  issuer?: string;
  /** Default: the issuer's published key. */
  key?: SigningKey;
  /** Seconds since the epoch; defaults as GitHub: issued now, valid from a little before, for five minutes. */
  iat?: number;
  nbf?: number;
  exp?: number;
}

export interface OidcIssuer {
  url: string;
  /** The key the issuer publishes and signs with. */
  key: SigningKey;
  /** Publishes these keys instead (rotation). */
  publish(keys: SigningKey[]): void;
  sign(claims: Record<string, unknown>, options: TokenOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  const key = await newSigningKey();
  let published = [key];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") {
      return send({
        issuer: url,
        jwks_uri: `${url}/.well-known/jwks`,
        subject_types_supported: ["public", "pairwise"],
        response_types_supported: ["id_token"],
        id_token_signing_alg_values_supported: ["RS256"],
        claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_id", "event_name", "environment", "run_id"],
      });
    }
    if (path === "/.well-known/jwks") return send({ keys: published.map((k) => k.publicJwk) });
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    key,
    publish(keys) {
      published = keys;
    },
    async sign(claims, options) {
      const now = Math.floor(Date.now() / 1000);
      const signer = options.key ?? key;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: signer.kid, typ: "JWT" })
        .setIssuer(options.issuer ?? url)
        .setAudience(options.audience)
        .setIssuedAt(options.iat ?? now)
        .setNotBefore(options.nbf ?? now - 10)
        .setExpirationTime(options.exp ?? now + 300)
        .sign(signer.privateKey);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
