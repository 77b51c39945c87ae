// A tenant's source database: its URL parsed, its address checked by the network
// guard, and a connection made to exactly that address.
import pg from "pg";
import { ForbiddenTarget, UnresolvableHost, type NetGuard } from "../platform/netguard.js";
import type { PgEndpoint } from "../platform/dataplane/pgtools.js";

export interface SourceUrl {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslmode: string | null;
}

export class SourceUrlInvalid extends Error {}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

export function parseSourceUrl(text: string): SourceUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new SourceUrlInvalid("source_url is not a URL: expected postgresql://user:password@host:port/database");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new SourceUrlInvalid(`source_url must start with postgresql:// (got ${u.protocol.replace(/[^a-z0-9+.-:]/gi, "")}//)`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw new SourceUrlInvalid("source_url has no host");
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new SourceUrlInvalid("source_url has no database name (postgresql://user:password@host:port/database)");
  const user = decodeURIComponent(u.username);
  if (!user) throw new SourceUrlInvalid("source_url has no user name");
  const port = u.port ? Number(u.port) : 5432;
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) throw new SourceUrlInvalid(`source_url: sslmode must be one of ${SSL_MODES.join(", ")}`);
  for (const key of u.searchParams.keys()) {
    if (key !== "sslmode") throw new SourceUrlInvalid(`source_url: unsupported parameter "${key.slice(0, 40)}" (only sslmode is accepted)`);
  }
  return { host, port, database, user, password: decodeURIComponent(u.password), sslmode };
}

export interface CheckedSource extends SourceUrl {
  /** The address the connection goes to, checked by the network guard. */
  address: string;
}

/** Throws ForbiddenTarget (a 400) for addresses the platform never connects to. */
export async function checkSource(guard: NetGuard, source: SourceUrl): Promise<CheckedSource> {
  return { ...source, address: await guard.resolve(source.host, source.port) };
}

export function sourceClient(s: CheckedSource, timeoutMs: number): pg.Client {
  const tls = s.sslmode === "require" || s.sslmode === "verify-ca" || s.sslmode === "verify-full";
  const client = new pg.Client({
    host: s.address,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    ssl: tls ? { rejectUnauthorized: s.sslmode !== "require", servername: s.host } : false,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: 30_000,
    application_name: "capydb-import",
  });
  client.on("error", () => {});
  return client;
}

export function sourceEndpoint(s: CheckedSource): PgEndpoint {
  return { host: s.host, hostaddr: s.address, port: s.port, user: s.user, password: s.password, database: s.database, sslmode: s.sslmode ?? "prefer" };
}

/** A connection failure described so a person can act on it (never with the password). */
export function describeConnectError(err: unknown, s: SourceUrl, timeoutMs: number): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const where = `${s.host}:${s.port}`;
  if (e.code === "28P01") return `password authentication failed for user "${s.user}": check the user name and password in source_url`;
  if (e.code === "28000" && /no encryption|SSL off/i.test(msg)) return `${where} accepts only encrypted connections: add ?sslmode=require to source_url`;
  if (e.code === "28000") return `${where} refused user "${s.user}": ${msg}`;
  if (e.code === "3D000") return `database "${s.database}" does not exist on ${where}`;
  if (e.code === "ECONNREFUSED") return `connection refused by ${where}: is PostgreSQL running and listening on that port?`;
  if (e.code === "EHOSTUNREACH" || e.code === "ENETUNREACH") return `${where} is unreachable from this platform (no route)`;
  if (/timeout/i.test(msg)) return `no answer from ${where} within ${Math.round(timeoutMs / 1000)} s: check the host, the port and any firewall in between`;
  if (/does not support SSL/i.test(msg)) return `${where} does not support encrypted connections: remove sslmode=${s.sslmode} from source_url`;
  return `could not connect to ${where}: ${msg}`;
}

export { ForbiddenTarget, UnresolvableHost };
