// Where a tenant-supplied URL may point. An import's source_url is resolved once
// and the connection made to the resolved address (no DNS rebinding), and it may
// never reach the control plane's database or any registered cluster (that would
// let a tenant copy another tenant's data), nor link-local or cloud metadata
// addresses. Every address that is not globally routable unicast is refused
// unless an operator allowlists it (self-hosted setups import from their own network).
//
// Addresses are classified with ipaddr.js, which knows the IANA special-purpose
// ranges. IPv6 forms that carry an IPv4 address (IPv4-mapped and -compatible,
// IPv4-translated, NAT64, 6to4, Teredo) are judged as the IPv4 address inside:
// `::ffff:127.0.0.1` and `64:ff9b::7f00:1` are loopback, not "some IPv6 address".
import dns from "node:dns/promises";
import net from "node:net";
import os from "node:os";
import ipaddr from "ipaddr.js";
import { PermanentError } from "./jobs/errors.js";

/** Refused by the guard: a 400 at request time, a permanent failure inside a job. */
export class ForbiddenTarget extends PermanentError {}
export class UnresolvableHost extends Error {}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressVerdict {
  /** The address as given. */
  address: string;
  /** The address the decision is about: the IPv4 address an IPv6 form carries, else the address itself. */
  judged: string;
  /** How the IPv4 address was carried inside IPv6, when it was. */
  carrier: string | null;
  /** The special-purpose range of the judged address ("unicast" when it has none). */
  range: string;
  /** Globally routable unicast: the only kind reachable without the operator's allowlist. */
  isPublic: boolean;
}

/** Parses only the strict textual forms (no "127.1", "0x7f.0.0.1" or leading zeros). */
function parseStrict(ip: string): Address | null {
  const bare = ip.split("%")[0];
  if (net.isIPv4(bare)) return ipaddr.IPv4.parse(bare);
  if (!net.isIPv6(bare)) return null;
  // ipaddr.js reads "::a.b.c.d" as IPv4-mapped; the URL parser writes the dotted tail as hex
  // without changing the address, so what is judged is exactly what the socket connects to.
  return ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1));
}

/** The IPv4 address an IPv6 address carries, and how; null when it carries none. */
function embeddedIPv4(v6: ipaddr.IPv6): { carrier: string; inner: ipaddr.IPv4 } | null {
  const p = v6.parts;
  const zero = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (zero(0, 5) && p[5] === 0xffff) return { carrier: "IPv4-mapped", inner: v4(p[6], p[7]) };
  if (zero(0, 4) && p[4] === 0xffff && p[5] === 0) return { carrier: "IPv4-translated", inner: v4(p[6], p[7]) };
  // ::/96 without :: and ::1, which are IPv6's own unspecified and loopback addresses
  if (zero(0, 6) && !(p[6] === 0 && p[7] <= 1)) return { carrier: "IPv4-compatible", inner: v4(p[6], p[7]) };
  if (p[0] === 0x64 && p[1] === 0xff9b && zero(2, 6)) return { carrier: "NAT64", inner: v4(p[6], p[7]) };
  if (p[0] === 0x2002) return { carrier: "6to4", inner: v4(p[1], p[2]) };
  // Teredo: the client's address is stored with every bit inverted
  if (p[0] === 0x2001 && p[1] === 0) return { carrier: "Teredo", inner: v4(~p[6] & 0xffff, ~p[7] & 0xffff) };
  return null;
}

// IANA's global unicast block: everything else in IPv6 is reserved or special.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");

/** Classifies an address without any network access. */
export function classifyAddress(ip: string): AddressVerdict {
  const addr = parseStrict(ip);
  if (!addr) return { address: ip, judged: ip, carrier: null, range: "not an IP address", isPublic: false };
  if (addr instanceof ipaddr.IPv6) {
    const embedded = embeddedIPv4(addr);
    if (embedded) {
      const range = embedded.inner.range();
      return { address: ip, judged: embedded.inner.toString(), carrier: embedded.carrier, range, isPublic: range === "unicast" };
    }
    let range: string = addr.range();
    // ipaddr.js calls "unicast" whatever is in no special range, unassigned space included
    if (range === "unicast" && !addr.match(GLOBAL_UNICAST_V6)) range = "reserved";
    // 64:ff9b:1::/48 (RFC 8215) is a local-use NAT64 prefix: where the IPv4 address sits
    // depends on the site, and it is never globally routable
    return { address: ip, judged: addr.toString(), carrier: null, range, isPublic: range === "unicast" };
  }
  const range = addr.range();
  return { address: ip, judged: addr.toString(), carrier: null, range, isPublic: range === "unicast" };
}

// Never allowed, whatever the operator allowlists: link-local (the cloud metadata
// service 169.254.169.254 among them), multicast, broadcast, and metadata services
// that live at other addresses.
const NEVER_RANGES = new Set(["linkLocal", "multicast", "broadcast"]);
const METADATA_ADDRESSES = new Set(["fd00:ec2::254", "100.100.100.200"]); // AWS over IPv6, Alibaba Cloud

// ipaddr.js's range names, as a person reads them in an error.
const RANGE_WORDS: Record<string, string> = {
  linkLocal: "link-local",
  carrierGradeNat: "carrier-grade NAT",
  uniqueLocal: "unique local",
  deprecatedSiteLocal: "site-local",
  rfc6052: "local-use NAT64",
  discard: "discard-only",
  as112: "AS112",
  as112v6: "AS112",
  amt: "AMT",
};

/** Addresses that reach this machine itself: loopback and unspecified. */
const LOOPBACKISH_RANGES = new Set(["loopback", "unspecified"]);

type Cidr = [Address, number];

/** An allowlist entry: "10.0.0.0/8", "fd00::/8" or a single address. */
export function parseAllowedCidr(text: string): Cidr {
  const [ip, bitsText, extra] = text.trim().split("/");
  const addr = parseStrict(ip);
  const max = addr?.kind() === "ipv4" ? 32 : 128;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!addr || extra !== undefined || ip.includes("%") || !(bits >= 0 && bits <= max)) {
    throw new Error(`CAPYDB_IMPORT_ALLOWED_CIDRS: "${text.slice(0, 60)}" is not an address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
  }
  // An IPv4-mapped range is the IPv4 range it maps, which is how mapped addresses are judged.
  if (addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress() && bits >= 96) return [addr.toIPv4Address(), bits - 96];
  return [addr, bits];
}

function inAny(ip: string, cidrs: Cidr[]): boolean {
  const addr = parseStrict(ip);
  return addr !== null && cidrs.some(([base, bits]) => base.kind() === addr.kind() && addr.match(base, bits));
}

export interface ProtectedEndpoint {
  host: string;
  port: number;
}

/** Every address this machine answers on (loopback, unspecified, and its interfaces), as judged. */
function localAddresses(): Set<string> {
  const out = ["127.0.0.1", "0.0.0.0", "::1", "::"];
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return new Set(out.map((ip) => classifyAddress(ip).judged));
}

/** Every address a host name resolves to, in the resolver's order; throws when it resolves to none. */
export type HostLookup = (host: string) => Promise<string[]>;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), as libpq itself would ask it. */
export const systemLookup: HostLookup = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class NetGuard {
  private readonly allow: Cidr[];

  constructor(
    allowCidrs: string[],
    private readonly protectedEndpoints: () => Promise<ProtectedEndpoint[]>,
    /** How host names are resolved (tests give answers of their own; nothing else is asked). */
    private readonly lookup: HostLookup = systemLookup,
  ) {
    this.allow = allowCidrs.map(parseAllowedCidr);
  }

  /**
   * Resolves host once and returns the address to connect to, or throws ForbiddenTarget
   * with a message that names the rule (never the URL's credentials). The caller connects
   * to that address (pinned as hostaddr for the tools), never to the name again: a second
   * lookup could answer otherwise (DNS rebinding).
   */
  async resolve(host: string, port: number): Promise<string> {
    let addresses: string[];
    if (net.isIP(host)) addresses = [host];
    else {
      try {
        addresses = await this.lookup(host);
      } catch {
        throw new UnresolvableHost(`host ${host} was not found (DNS lookup failed): check the host name in source_url`);
      }
    }
    if (addresses.length === 0) throw new UnresolvableHost(`host ${host} was not found: check the host name in source_url`);
    const local = localAddresses();
    const isLocal = (v: AddressVerdict) => LOOPBACKISH_RANGES.has(v.range) || local.has(v.judged);
    // A server of ours on this machine is reachable through every local address at its port.
    const localPorts = new Set<number>();
    const remote = new Set<string>();
    for (const e of await this.protectedEndpoints()) {
      const resolved = net.isIP(e.host) ? [e.host] : await this.lookup(e.host).catch(() => []);
      for (const v of resolved.map(classifyAddress)) {
        if (isLocal(v)) localPorts.add(e.port);
        else remote.add(`${v.judged}|${e.port}`);
      }
    }
    // Every address the name resolves to must pass: a name with one bad address is refused.
    for (const ip of addresses) {
      const v = classifyAddress(ip);
      const shown = v.carrier ? `${ip} (${v.carrier}, carrying ${v.judged})` : ip;
      if (NEVER_RANGES.has(v.range) || METADATA_ADDRESSES.has(v.judged)) {
        throw new ForbiddenTarget(`source_url: ${host} resolves to ${shown}, a link-local, multicast, broadcast or metadata address, which is never allowed`);
      }
      if ((isLocal(v) && localPorts.has(port)) || remote.has(`${v.judged}|${port}`)) {
        throw new ForbiddenTarget(`source_url: ${host}:${port} is this platform's own database server; import from your own server instead`);
      }
      if (!v.isPublic && !inAny(v.judged, this.allow) && !inAny(ip, this.allow)) {
        throw new ForbiddenTarget(
          `source_url: ${host} resolves to ${shown}, in the ${RANGE_WORDS[v.range] ?? v.range} range, which is not publicly routable; ` +
            "imports from private networks must be allowed by the operator (CAPYDB_IMPORT_ALLOWED_CIDRS)",
        );
      }
    }
    return addresses[0];
  }
}
