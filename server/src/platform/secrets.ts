// Secrets at rest and identifiers: the server key, AES-256-GCM sealing of role
// passwords and cluster credentials, API key material, SCRAM verifiers.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Opaque prefixed id: prj_3k9x... (20 random base36 chars, ~103 bits). */
export function newId(prefix: string): string {
  const bytes = crypto.randomBytes(20);
  let out = "";
  for (const b of bytes) out += ID_ALPHABET[b % 36];
  return `${prefix}_${out}`;
}

/** A password safe in URLs and connection strings without escaping. */
export function newPassword(): string {
  return crypto.randomBytes(24).toString("base64url");
}

export const API_KEY_PREFIX = "capy_live_";

export function newApiKeySecret(): string {
  return API_KEY_PREFIX + crypto.randomBytes(32).toString("base64url");
}

/** API key secrets carry 256 random bits, so a fast hash is the right one (as GitHub does for its tokens). */
export function hashApiKey(secret: string): string {
  return crypto.createHash("sha256").update(secret).digest("hex");
}

export function apiKeyDisplayPrefix(secret: string): string {
  return secret.slice(0, API_KEY_PREFIX.length + 6);
}

export function isWellFormedApiKey(secret: string): boolean {
  return secret.startsWith(API_KEY_PREFIX) && /^[A-Za-z0-9_-]{32,200}$/.test(secret.slice(API_KEY_PREFIX.length));
}

/**
 * The SCRAM-SHA-256 verifier Postgres stores for a password (RFC 5802/7677, as
 * pg_authid.rolpassword). Sending the verifier instead of the password means the
 * plaintext never reaches the server, its logs or pg_stat_statements.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = crypto.randomBytes(16);
  const salted = crypto.pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = crypto.createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = crypto.createHash("sha256").update(clientKey).digest();
  const serverKey = crypto.createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

export class SecretBox {
  private readonly key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("the server secret key must be 32 bytes");
    this.key = key;
  }

  seal(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `v1.${iv.toString("base64url")}.${cipher.getAuthTag().toString("base64url")}.${body.toString("base64url")}`;
  }

  /** An HMAC under a key derived from the server key for one purpose (signed upload URLs). */
  mac(purpose: string, text: string): string {
    const key = Buffer.from(crypto.hkdfSync("sha256", this.key, Buffer.alloc(0), `capydb:${purpose}`, 32));
    return crypto.createHmac("sha256", key).update(text).digest("hex");
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split(".");
    if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("sealed secret has an unknown format");
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
  }
}

/**
 * The server key: CAPYDB_SECRET_KEY (base64 of 32 bytes) when set, else a key
 * generated once and kept in <data dir>/secret-key (mode 0600).
 */
export function loadSecretKey(configured: string | null, dataDir: string): Buffer {
  if (configured) {
    const key = Buffer.from(configured, "base64");
    if (key.length !== 32) throw new Error("CAPYDB_SECRET_KEY must be the base64 encoding of 32 bytes (openssl rand -base64 32)");
    return key;
  }
  const file = path.join(dataDir, "secret-key");
  try {
    return Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = crypto.randomBytes(32);
  fs.writeFileSync(file, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  return key;
}
