// Where a tenant-supplied URL may point. An import's source_url is resolved once
// and the connection made to the resolved address (no DNS rebinding), and it may
// never reach the control plane's database or any registered cluster (that would
// let a tenant copy another tenant's data), nor link-local or cloud metadata
// addresses. Private, loopback and unspecified addresses are refused unless an
// operator allowlists them (self-hosted setups import from their own network).
import dns from "node:dns/promises";
import net from "node:net";
import os from "node:os";

export class ForbiddenTarget extends Error {}
export class UnresolvableHost extends Error {}

interface Cidr {
  family: 4 | 6;
  bytes: Buffer;
  bits: number;
}

function toBytes(ip: string): { family: 4 | 6; bytes: Buffer } {
  if (net.isIPv4(ip)) return { family: 4, bytes: Buffer.from(ip.split(".").map(Number)) };
  // expand IPv6, including an embedded IPv4 tail
  let addr = ip.split("%")[0];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const b = v4[1].split(".").map(Number);
    addr = addr.replace(v4[1], `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`);
  }
  const [head, tail] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g || "0", 16), i * 2));
  return { family: 6, bytes };
}

export function parseCidr(text: string): Cidr {
  const [ip, bitsText] = text.trim().split("/");
  if (!net.isIP(ip)) throw new Error(`not a CIDR: ${text}`);
  const { family, bytes } = toBytes(ip);
  const bits = bitsText === undefined ? (family === 4 ? 32 : 128) : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) throw new Error(`not a CIDR: ${text}`);
  return { family, bytes, bits };
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it carries. */
function normalize(ip: string): { family: 4 | 6; bytes: Buffer } {
  const b = toBytes(ip);
  if (b.family === 6 && b.bytes.subarray(0, 10).every((x) => x === 0) && b.bytes[10] === 0xff && b.bytes[11] === 0xff) {
    return { family: 4, bytes: b.bytes.subarray(12) };
  }
  return b;
}

export function inCidr(ip: string, cidr: Cidr): boolean {
  const a = normalize(ip);
  if (a.family !== cidr.family) return false;
  let bits = cidr.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a.bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}

const ALWAYS_FORBIDDEN = [
  "169.254.0.0/16", // link-local, incl. the cloud metadata service 169.254.169.254
  "fe80::/10",
  "fd00:ec2::254/128", // AWS metadata over IPv6
  "100.100.100.200/32", // Alibaba Cloud metadata
  "224.0.0.0/4", // multicast
  "ff00::/8",
  "255.255.255.255/32",
].map(parseCidr);

const PRIVATE = [
  "0.0.0.0/8", // "this host": connecting to 0.0.0.0 reaches local listeners
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "::/128",
  "::1/128",
  "fc00::/7",
].map(parseCidr);

const LOOPBACKISH = ["0.0.0.0/8", "127.0.0.0/8", "::/128", "::1/128"].map(parseCidr);

export interface ProtectedEndpoint {
  host: string;
  port: number;
}

/** Every address this machine answers on (loopback, unspecified, and its interfaces). */
function localAddresses(): string[] {
  const out = ["127.0.0.1", "0.0.0.0", "::1", "::"];
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

export class NetGuard {
  private readonly allow: Cidr[];

  constructor(allowCidrs: string[], private readonly protectedEndpoints: () => Promise<ProtectedEndpoint[]>) {
    this.allow = allowCidrs.map(parseCidr);
  }

  /**
   * Resolves host and returns the address to connect to, or throws ForbiddenTarget
   * with a message that names the rule (never the URL's credentials).
   */
  async resolve(host: string, port: number): Promise<string> {
    let addresses: string[];
    if (net.isIP(host)) addresses = [host];
    else {
      try {
        addresses = (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
      } catch {
        throw new UnresolvableHost(`host ${host} was not found (DNS lookup failed): check the host name in source_url`);
      }
    }
    if (addresses.length === 0) throw new UnresolvableHost(`host ${host} was not found: check the host name in source_url`);
    const endpoints = await this.protectedEndpoints();
    const protectedSet = new Set<string>();
    for (const e of endpoints) {
      const resolved = net.isIP(e.host) ? [e.host] : (await dns.lookup(e.host, { all: true }).catch(() => [])).map((a) => a.address);
      const local = resolved.some((ip) => LOOPBACKISH.some((c) => inCidr(ip, c)) || localAddresses().includes(ip));
      for (const ip of local ? [...resolved, ...localAddresses()] : resolved) protectedSet.add(`${normalizeText(ip)}|${e.port}`);
    }
    // Every address the name resolves to must pass: a name with one bad address is refused.
    for (const ip of addresses) {
      if (ALWAYS_FORBIDDEN.some((c) => inCidr(ip, c))) {
        throw new ForbiddenTarget(`source_url: ${host} resolves to ${ip}, a link-local or metadata address, which is never allowed`);
      }
      const local = LOOPBACKISH.some((c) => inCidr(ip, c));
      if (protectedSet.has(`${normalizeText(ip)}|${port}`) || (local && [...protectedSet].some((p) => p.endsWith(`|${port}`) && p.startsWith("127.")))) {
        throw new ForbiddenTarget(`source_url: ${host}:${port} is this platform's own database server; import from your own server instead`);
      }
      if (PRIVATE.some((c) => inCidr(ip, c)) && !this.allow.some((c) => inCidr(ip, c))) {
        throw new ForbiddenTarget(
          `source_url: ${host} resolves to the private address ${ip}; imports from private networks must be allowed by the operator (CAPYDB_IMPORT_ALLOWED_CIDRS)`,
        );
      }
    }
    return addresses[0];
  }
}

function normalizeText(ip: string): string {
  const n = normalize(ip);
  return n.family === 4 ? [...n.bytes].join(".") : n.bytes.toString("hex");
}
