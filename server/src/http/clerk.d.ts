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
"invalid_token"
/** Clerk's signing keys could not be obtained (JWKS unreachable/invalid). → 503 */
 | "keys_unavailable";
/** A session token was rejected. `message` is safe to show to the client. */
export declare class ClerkTokenError extends Error {
    readonly code: ClerkTokenErrorCode;
    constructor(message: string, code?: ClerkTokenErrorCode, options?: {
        cause?: unknown;
    });
}
export interface ClerkVerifier {
    verify(token: string): Promise<ClerkIdentity>;
}
/**
 * Cheap structural check: three base64url segments (header and payload non-empty) whose
 * header decodes to a JSON object with a string `alg`. Does not verify anything.
 */
export declare function looksLikeJwt(token: string): boolean;
/**
 * Creates a verifier for Clerk session tokens. Throws (a plain Error) when neither
 * `jwksUrl` nor `publicKeyPem` is configured, or when the configured one is unusable
 * (unparseable URL, non-RSA/invalid PEM).
 */
export declare function createClerkVerifier(config: ClerkConfig): ClerkVerifier;
