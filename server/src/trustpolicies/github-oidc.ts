// Verification of GitHub Actions ID tokens (RS256 JWTs): the signature against the issuer's
// published keys (jose's remote JWKS: fetched when first needed, cached, fetched again when a
// token names a key it does not hold, which is how GitHub's key rotation reaches us), then
// iss, aud, exp, nbf and iat with a small clock tolerance, then the shape of GitHub's claims.
// Every refusal says which check failed and never repeats the token.
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { unauthorized, unavailable } from "../http/errors.js";

export interface GitHubOidcSettings {
  issuer: string;
  /** null: the jwks_uri of the issuer's discovery document. */
  jwksUrl: string | null;
  /** Fetched keys are used this long; a token naming a key not among them fetches them again (at most every 30 s). */
  jwksCacheSeconds: number;
  /** The audience tokens must carry (read per request: the server's own URL is known only once it listens). */
  audience: () => string;
}

/** The claims of GitHub's ID token that trust policies and the actor record use. */
export interface GitHubClaims {
  repository: string;
  repository_id: string;
  repository_owner: string;
  ref: string;
  sha: string | null;
  event_name: string;
  environment: string | null;
  run_id: string;
  actor: string | null;
  /** Seconds since the epoch. */
  exp: number;
}

const ALGORITHM = "RS256";
/** Clocks of GitHub and of this server may differ by this much. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** GitHub's ID tokens live minutes; one issued longer ago than this is refused whatever its exp says. */
const MAX_TOKEN_AGE_SECONDS = 3600;
const FETCH_TIMEOUT_MS = 5000;

// GitHub sends ids as strings of digits; accepting numbers too costs nothing.
const id = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]).transform(String);
const text = z.string().min(1).max(1000);
const GitHubClaimsSchema = z.object({
  repository: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/),
  repository_id: id,
  repository_owner: text,
  ref: z.string().max(1000),
  sha: z
    .string()
    .regex(/^[0-9a-f]{40,64}$/)
    .optional(),
  event_name: z.string().regex(/^[a-z_]{1,64}$/),
  environment: text.optional(),
  run_id: id,
  actor: text.optional(),
  exp: z.number(),
});

export class GitHubOidcVerifier {
  private keys: JWTVerifyGetKey | null = null;

  constructor(private readonly settings: GitHubOidcSettings) {}

  async verify(token: string): Promise<GitHubClaims> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized("token: is not a JWT (send the ID token the workflow got from core.getIDToken)");
    }
    if (alg !== ALGORITHM) throw unauthorized(`token: is not signed with ${ALGORITHM}, as GitHub's ID tokens are`);
    const keys = await this.keySource();
    const audience = this.settings.audience();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [ALGORITHM],
        issuer: this.settings.issuer,
        // the same URL with or without its trailing slash, as a workflow may have written either
        audience: [audience, `${audience}/`],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        requiredClaims: ["exp", "iat"],
      }));
    } catch (err) {
      throw refusal(err, this.settings.issuer, audience);
    }
    const parsed = GitHubClaimsSchema.safeParse(payload);
    if (!parsed.success) {
      const claim = parsed.error.issues[0].path.join(".") || "claims";
      throw unauthorized(`token: claim ${claim} is missing or malformed: this is not a GitHub Actions ID token`);
    }
    const c = parsed.data;
    return {
      repository: c.repository,
      repository_id: c.repository_id,
      repository_owner: c.repository_owner,
      ref: c.ref,
      sha: c.sha ?? null,
      event_name: c.event_name,
      environment: c.environment ?? null,
      run_id: c.run_id,
      actor: c.actor ?? null,
      exp: c.exp,
    };
  }

  /** The issuer's key set; found through its discovery document unless configured (a failed discovery is tried again next time). */
  private async keySource(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    const url = this.settings.jwksUrl ?? (await discoverJwksUri(this.settings.issuer));
    const cacheMs = this.settings.jwksCacheSeconds * 1000;
    this.keys ??= createRemoteJWKSet(new URL(url), { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: Math.min(30_000, cacheMs), cacheMaxAge: cacheMs });
    return this.keys;
  }
}

/** The jwks_uri of the issuer's OpenID discovery document, which must name the issuer itself. */
async function discoverJwksUri(issuer: string): Promise<string> {
  const where = `${issuer}/.well-known/openid-configuration`;
  let doc: unknown;
  try {
    const res = await fetch(where, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = await res.json();
  } catch (err) {
    throw unavailable(`cannot read the GitHub OIDC issuer's discovery document ${where} (${(err as Error).message}); retry shortly`);
  }
  const { issuer: named, jwks_uri: jwksUri } = (doc ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
  if (named !== issuer) throw unavailable(`the discovery document ${where} names another issuer; check CAPYDB_GITHUB_OIDC_ISSUER`);
  if (typeof jwksUri !== "string" || !/^https?:\/\//.test(jwksUri)) throw unavailable(`the discovery document ${where} has no usable jwks_uri`);
  return jwksUri;
}

/** A jose failure as the answer to the caller: 401 naming the check, or 503 when the keys could not be fetched. */
function refusal(err: unknown, issuer: string, audience: string): Error {
  if (err instanceof joseErrors.JWTExpired) {
    return unauthorized(err.claim === "iat" ? "token: was issued too long ago (iat)" : "token: has expired (exp): request a new one");
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const missing = err.reason === "missing";
    switch (err.claim) {
      case "iss":
        return unauthorized(missing ? "token: has no issuer (iss)" : `token: wrong issuer (iss): this server trusts ${issuer} only`);
      case "aud":
        return unauthorized(
          missing
            ? "token: has no audience (aud)"
            : `token: wrong audience (aud): ask GitHub for a token with audience ${audience} (core.getIDToken("${audience}"))`,
        );
      case "nbf":
        return unauthorized("token: is not valid yet (nbf)");
      case "iat":
        return unauthorized(missing ? "token: has no issue time (iat)" : "token: is issued in the future (iat)");
      case "exp":
        return unauthorized("token: has no expiry (exp)");
      default:
        return unauthorized(`token: claim ${String(err.claim).slice(0, 40)} is invalid`);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return unauthorized("token: the signature does not verify with the issuer's key");
  if (err instanceof joseErrors.JWKSNoMatchingKey) return unauthorized("token: is signed with a key the issuer does not publish");
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return unauthorized("token: names its signing key ambiguously");
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return unauthorized("token: uses an algorithm other than RS256");
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return unauthorized("token: is not a well-formed JWT");
  // anything else: the key set could not be fetched or read
  return unavailable("cannot fetch the GitHub OIDC issuer's signing keys; retry shortly");
}
