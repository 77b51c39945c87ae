/** Opaque prefixed id: prj_3k9x... (20 random base36 chars, ~103 bits). */
export declare function newId(prefix: string): string;
/** A password safe in URLs and connection strings without escaping. */
export declare function newPassword(): string;
export declare const API_KEY_PREFIX = "capy_live_";
export declare function newApiKeySecret(): string;
/** API key secrets carry 256 random bits, so a fast hash is the right one (as GitHub does for its tokens). */
export declare function hashApiKey(secret: string): string;
export declare function apiKeyDisplayPrefix(secret: string): string;
export declare function isWellFormedApiKey(secret: string): boolean;
/**
 * The SCRAM-SHA-256 verifier Postgres stores for a password (RFC 5802/7677, as
 * pg_authid.rolpassword). Sending the verifier instead of the password means the
 * plaintext never reaches the server, its logs or pg_stat_statements.
 */
export declare function scramVerifier(password: string, iterations?: number): string;
export declare class SecretBox {
    private readonly key;
    constructor(key: Buffer);
    seal(plaintext: string): string;
    open(sealed: string): string;
}
/**
 * The server key: CAPYDB_SECRET_KEY (base64 of 32 bytes) when set, else a key
 * generated once and kept in <data dir>/secret-key (mode 0600).
 */
export declare function loadSecretKey(configured: string | null, dataDir: string): Buffer;
