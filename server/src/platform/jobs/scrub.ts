// Keeps secrets out of job records, logs and error bodies.

const MASK = "********";

/** Replaces each known secret (raw and URL-encoded), URL passwords and API keys. */
export function scrubSecrets(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      out = out.split(form).join(MASK);
    }
  }
  // postgres://user:password@host → postgres://user:********@host
  out = out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]+:)([^@\s/]+)@/gi, `$1${MASK}@`);
  // password=... in libpq keyword/value strings
  out = out.replace(/(\bpassword\s*=\s*)('[^']*'|\S+)/gi, `$1${MASK}`);
  out = out.replace(/capy_live_[A-Za-z0-9_-]+/g, `capy_live_${MASK}`);
  out = out.replace(/capy_oidc_[A-Za-z0-9_-]+/g, `capy_oidc_${MASK}`);
  return out;
}

/** Keeps the end of a long output (where tools print their errors). */
export function truncateTail(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const buf = Buffer.from(text);
  return (
    "[...truncated...]\n" +
    buf
      .subarray(buf.length - maxBytes)
      .toString("utf8")
      .replace(/^\uFFFD+/, "")
  );
}
