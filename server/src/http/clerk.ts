/**
 * Verification of Clerk session tokens (RS256 JWTs) for the control-plane API.
 *
 * Follows Clerk's documented manual-verification steps:
 *   1. the signature is checked with Clerk's public key — either the instance JWKS
 *      (`jwksUrl`, fetched and cached by jose's `createRemoteJWKSet`) or the
 *      "JWT public key" PEM (`publicKeyPem`, networkless);
 *   2. only RS256 is accepted;
 *   3. `exp` and `nbf` are enforced with a small clock tolerance;
 *   4. `iss` must match the configured issuer (when configured);
 *   5. `azp` must be one of the permitted origins (when any are configured);
 *   6. `sub` (the Clerk user id) is required.
 *
 * Every verification failure is reported as a {@link ClerkTokenError} whose message is
 * safe to return to the client; the token itself never appears in a message.
 */
import { createPublicKey } from "node:crypto";
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";

export interface ClerkConfig {
  /** e.g. https://<frontend-api>/.well-known/jwks.json */
  jwksUrl?: string;
  /** Alternative to jwksUrl: Clerk's "JWT public key" PEM (SPKI). Preferred when both are set. */
  publicKeyPem?: string;
  /** Expected `iss` (exact match) when set. */
  issuer?: string;
  /** Allowed `azp` values (origins); empty = do not check azp. */
  authorizedParties: string[];
  /** Clock skew tolerance for exp/nbf, in seconds. Default 5. */
  clockToleranceSec?: number;
  /** Minimum time between JWKS re-fetches triggered by an unknown `kid`. Default 30 000 ms. */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is re-fetched. Default 600 000 ms. */
  jwksCacheMaxAgeMs?: number;
  /** Timeout of one JWKS HTTP request. Default 5 000 ms. */
  jwksTimeoutMs?: number;
}

export interface ClerkIdentity {
  userId: string;
  clerkOrganizationId: string | null;
  sessionId: string | null;
}

export type ClerkTokenErrorCode =
  /** The token is not acceptable (malformed, bad signature, expired, wrong claims, ...). → 401 */
  | "invalid_token"
  /** Clerk's signing keys could not be obtained (JWKS unreachable/invalid). → 503 */
  | "keys_unavailable";

/** A session token was rejected. `message` is safe to show to the client. */
export class ClerkTokenError extends Error {
  readonly code: ClerkTokenErrorCode;
  constructor(message: string, code: ClerkTokenErrorCode = "invalid_token", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ClerkTokenError";
    this.code = code;
  }
}

export interface ClerkVerifier {
  verify(token: string): Promise<ClerkIdentity>;
}

const ALGORITHM = "RS256";
/** Clerk session tokens are small; anything much larger is not one of them. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const B64URL_SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Cheap structural check: three base64url segments (header and payload non-empty) whose
 * header decodes to a JSON object with a string `alg`. Does not verify anything.
 */
export function looksLikeJwt(token: string): boolean {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const [header, payload, signature] = parts as [string, string, string];
  if (header.length === 0 || payload.length === 0) return false;
  if (!B64URL_SEGMENT.test(header) || !B64URL_SEGMENT.test(payload) || !B64URL_SEGMENT.test(signature)) return false;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
    return typeof decoded === "object" && decoded !== null && !Array.isArray(decoded) && typeof (decoded as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

/**
 * Creates a verifier for Clerk session tokens. Throws (a plain Error) when neither
 * `jwksUrl` nor `publicKeyPem` is configured, or when the configured one is unusable
 * (unparseable URL, non-RSA/invalid PEM).
 */
export function createClerkVerifier(config: ClerkConfig): ClerkVerifier {
  const clockTolerance = config.clockToleranceSec ?? 5;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new Error("Clerk clockToleranceSec must be a non-negative number");
  }
  const issuer = config.issuer && config.issuer.length > 0 ? config.issuer : undefined;
  const allowedParties = new Set((config.authorizedParties ?? []).map(normalizeOrigin));

  const getKey = createKeySource(config);

  return {
    async verify(token: string): Promise<ClerkIdentity> {
      if (typeof token !== "string" || !looksLikeJwt(token)) {
        throw new ClerkTokenError("session token is malformed");
      }
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new ClerkTokenError("session token is malformed");
      }
      if (alg !== ALGORITHM) throw new ClerkTokenError("unsupported session token algorithm");

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: [ALGORITHM],
          issuer,
          clockTolerance,
          requiredClaims: ["exp", "sub"],
        }));
      } catch (err) {
        throw toClerkTokenError(err);
      }

      if (typeof payload.sub !== "string" || payload.sub.length === 0) {
        throw new ClerkTokenError("session token has no subject");
      }

      if (allowedParties.size > 0) {
        const azp = (payload as { azp?: unknown }).azp;
        if (typeof azp !== "string" || azp.length === 0) {
          throw new ClerkTokenError("session token has no azp claim");
        }
        if (!allowedParties.has(normalizeOrigin(azp))) {
          throw new ClerkTokenError(`session token azp ${describeValue(azp)} is not an allowed origin`);
        }
      }

      const sid = (payload as { sid?: unknown }).sid;
      return {
        userId: payload.sub,
        clerkOrganizationId: organizationIdOf(payload),
        sessionId: typeof sid === "string" && sid.length > 0 ? sid : null,
      };
    },
  };
}

function createKeySource(config: ClerkConfig): JWTVerifyGetKey {
  const pem = config.publicKeyPem?.trim();
  if (pem) {
    // Env vars often carry the PEM with literal "\n" sequences.
    const normalized = pem.includes("\\n") ? pem.replace(/\\n/g, "\n") : pem;
    // Validate synchronously so a broken configuration fails at startup, not per request.
    let keyType: string | undefined;
    try {
      keyType = createPublicKey({ key: normalized, format: "pem" }).asymmetricKeyType;
    } catch (err) {
      throw new Error("Clerk publicKeyPem is not a valid PEM public key", { cause: err });
    }
    if (keyType !== "rsa") throw new Error(`Clerk publicKeyPem must be an RSA public key (got ${keyType ?? "unknown"})`);
    let imported: Promise<CryptoKey> | undefined;
    return () => {
      imported ??= importSPKI(normalized, ALGORITHM).catch((err: unknown) => {
        imported = undefined;
        throw err;
      });
      return imported;
    };
  }

  const jwksUrl = config.jwksUrl?.trim();
  if (jwksUrl) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch (err) {
      throw new Error("Clerk jwksUrl is not a valid URL", { cause: err });
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new Error("Clerk jwksUrl must be an http(s) URL");
    }
    const jwks = createRemoteJWKSet(url, {
      cooldownDuration: config.jwksCooldownMs ?? 30_000,
      cacheMaxAge: config.jwksCacheMaxAgeMs ?? 600_000,
      timeoutDuration: config.jwksTimeoutMs ?? 5_000,
    });
    return jwks;
  }

  throw new Error("Clerk verification needs either jwksUrl or publicKeyPem");
}

/** v2 session tokens: `o: { id, rol, slg, ... }`; v1: `org_id`; otherwise null. */
function organizationIdOf(payload: JWTPayload): string | null {
  const o = (payload as { o?: unknown }).o;
  if (typeof o === "object" && o !== null) {
    const id = (o as { id?: unknown }).id;
    if (typeof id === "string" && id.length > 0) return id;
  }
  const orgId = (payload as { org_id?: unknown }).org_id;
  if (typeof orgId === "string" && orgId.length > 0) return orgId;
  return null;
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "");
}

/** Quote an untrusted claim value for an error message, bounded and printable. */
function describeValue(value: string): string {
  const clipped = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return JSON.stringify(clipped);
}

function toClerkTokenError(err: unknown): ClerkTokenError {
  if (err instanceof ClerkTokenError) return err;
  const invalid = (message: string) => new ClerkTokenError(message, "invalid_token", { cause: err });

  if (err instanceof joseErrors.JWTExpired) return invalid("session token expired");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return invalid(err.reason === "check_failed" ? "session token is not yet valid" : "session token nbf claim is invalid");
      case "exp":
        return invalid(err.reason === "missing" ? "session token has no expiry" : "session token exp claim is invalid");
      case "iss":
        return invalid(err.reason === "missing" ? "session token has no issuer" : "session token issuer is not trusted");
      case "sub":
        return invalid(err.reason === "missing" ? "session token has no subject" : "session token sub claim is invalid");
      default:
        return invalid(`session token ${describeValue(err.claim)} claim is invalid`);
    }
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return invalid("unsupported session token algorithm");
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid("session token signature is invalid");
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid("session token signing key is not recognized");
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return invalid("session token signing key is ambiguous");
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
    return invalid("session token is malformed");
  }
  // Anything else is a failure to obtain keys: JWKS timeout, network error, non-200,
  // unparseable/invalid JWKS, unusable key material.
  return new ClerkTokenError("unable to verify session token: signing keys unavailable", "keys_unavailable", {
    cause: err,
  });
}
