// A tenant's source database: its URL parsed, its address checked by the network
// guard, and a connection made to exactly that address.
import net from "node:net";
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

/** A source_url refused as written; the message starts with "source_url: " (a 400). */
export class SourceUrlInvalid extends Error {}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

// The only query parameter accepted is sslmode. Every other libpq parameter either
// sends the connection elsewhere (host, hostaddr, port, dbname, service), makes a
// tool read a file on our servers (sslrootcert, sslcert, sslkey, sslcrl, passfile,
// service through pg_service.conf) or changes the session in ways an import does
// not need (options, target_session_attrs, ...).
const PARAMETER_HINTS: Record<string, string> = {
  host: "put the host in the URL itself: postgresql://user:password@host:port/database",
  hostaddr: "put the host in the URL itself: postgresql://user:password@host:port/database",
  port: "put the port in the URL itself: postgresql://user:password@host:port/database",
  dbname: "put the database name in the URL's path: postgresql://user:password@host:port/database",
  user: "put the user name in the URL itself: postgresql://user:password@host:port/database",
  password: "put the password in the URL itself: postgresql://user:password@host:port/database",
  service: "it reads a file on this platform's servers",
  passfile: "it names a file on this platform's servers",
  sslrootcert: "it names a file on this platform's servers",
  sslcert: "it names a file on this platform's servers",
  sslkey: "it names a file on this platform's servers",
  sslcrl: "it names a file on this platform's servers",
  sslcrldir: "it names a directory on this platform's servers",
  channel_binding: "it is not passed on to pg_dump; sslmode=verify-full authenticates the server",
};

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(message: string): never {
  throw new SourceUrlInvalid(`source_url: ${message}`);
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return invalid(`${what} has a malformed %-escape`);
  }
}

/**
 * Takes a postgresql:// URL apart by hand, the way libpq reads one, and refuses
 * every form where libpq and a WHATWG URL parser disagree or where libpq would
 * do more than connect to one host: several hosts, port lists, Unix socket paths,
 * %-escapes in the host, NULs, connection parameters in the query string. The
 * parts are then passed to the tools one by one, never as a URL or a
 * connection string, so nothing in them is read as a parameter.
 */
export function parseSourceUrl(text: string): SourceUrl {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  if (!scheme) invalid("not a URL: expected postgresql://user:password@host:port/database");
  if (!/^postgres(ql)?$/i.test(scheme)) invalid(`must start with postgresql:// (got ${scheme.slice(0, 20)}://)`);
  // The URL parser drops tabs and newlines and trims spaces; libpq does not.
  if (/[^\x21-\x7e]/.test(text)) invalid("contains a space, a control character or a non-ASCII character: %-encode it (a space is %20)");
  const parts = /^[^:]+:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/.exec(text);
  if (!parts) invalid("expected postgresql://user:password@host:port/database");
  const [, authority, path, query, fragment] = parts;
  if (fragment !== undefined) invalid("a #fragment is not accepted (write a # in the password as %23)");

  const ats = authority.split("@").length - 1;
  if (ats === 0 && text.slice(text.indexOf("//") + 2 + authority.length).includes("@")) {
    invalid("the user name or password contains a /, ? or #: %-encode it (/ is %2F, ? is %3F, # is %23)");
  }
  if (ats === 0) invalid("has no user name: expected postgresql://user:password@host:port/database");
  if (ats > 1) invalid("has more than one @: write an @ in the user name or password as %40");
  const [userinfo, hostport] = authority.split("@");
  const colon = userinfo.indexOf(":");
  const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), "the user name");
  const password = colon < 0 ? "" : decode(userinfo.slice(colon + 1), "the password");
  if (!user) invalid("has no user name: expected postgresql://user:password@host:port/database");
  if (CONTROL.test(user)) invalid("the user name contains a control character");
  if (password.includes("\u0000")) invalid("the password contains a NUL character");

  if (hostport.includes(",")) invalid("names several hosts: give exactly one host and port");
  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith("[")) {
    const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
    if (!v6 || !net.isIPv6(v6[1]) || v6[1].includes("%")) invalid("the host in [brackets] is not an IPv6 address");
    [, host, portText] = v6;
  } else {
    const i = hostport.indexOf(":");
    host = i < 0 ? hostport : hostport.slice(0, i);
    portText = i < 0 ? undefined : hostport.slice(i + 1);
  }
  if (!host) invalid("has no host: expected postgresql://user:password@host:port/database (Unix sockets are not accepted)");
  if (host.includes("%")) invalid("%-escapes are not accepted in the host (nor Unix socket paths): give a host name or an IP address");
  if (!net.isIP(host)) {
    if (!HOST_NAME.test(host)) invalid(`host "${host.slice(0, 80)}" is not a host name or an IP address`);
    // "127.1", "0x7f.0.0.1" and "2130706433" are 127.0.0.1 to the resolver
    if (/^(0x[0-9a-f]*|\d+)$/i.test(host.replace(/\.$/, "").split(".").pop()!))
      invalid(`host "${host.slice(0, 80)}": write an IPv4 address as four decimal numbers (a.b.c.d)`);
  }
  let port = 5432;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) invalid(`port "${portText.slice(0, 20)}" is not a port number (1-65535)`);
  }

  if (!path || path === "/") invalid("has no database name: expected postgresql://user:password@host:port/database");
  const database = decode(path.slice(1), "the database name");
  if (CONTROL.test(database)) invalid("the database name contains a control character");

  let sslmode: string | null = null;
  for (const param of query && query !== "?" ? query.slice(1).split("&") : []) {
    const eq = param.indexOf("=");
    const key = decode(eq < 0 ? param : param.slice(0, eq), "a parameter name");
    const shownKey = JSON.stringify(key.slice(0, 40));
    if (key !== "sslmode") {
      const hint = PARAMETER_HINTS[key];
      invalid(`parameter ${shownKey} is not accepted${hint ? ` (${hint})` : ""}; the only parameter accepted is sslmode`);
    }
    if (eq < 0) invalid("parameter sslmode has no value");
    if (sslmode !== null) invalid("parameter sslmode is given twice");
    const value = decode(param.slice(eq + 1), "sslmode");
    if (!SSL_MODES.includes(value)) invalid(`sslmode must be one of ${SSL_MODES.join(", ")}`);
    sslmode = value;
  }
  return { host, port, database, user, password, sslmode };
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
    // TLS verifies the name the tenant wrote (an IP address has no server name to send).
    ssl: tls ? { rejectUnauthorized: s.sslmode !== "require", servername: net.isIP(s.host) ? undefined : s.host } : false,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: 30_000,
    application_name: "capydb-import",
  });
  client.on("error", () => {});
  return client;
}

/**
 * The source for pg_dump: the checked address pinned as hostaddr (host is kept only
 * for TLS verification), every part passed literally by the tool runner.
 */
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
