// The network guard's decisions about where an import may connect, for addresses
// an attacker would try: loopback, private and metadata addresses dressed as IPv6
// (IPv4-compatible, IPv4-mapped, IPv4-translated, NAT64, 6to4, Teredo), reserved,
// benchmarking and documentation ranges. Only decisions: the guard is given IP
// literals, which it does not resolve, and no connection is ever made.
import { describe, expect, it } from "vitest";
import { ForbiddenTarget, NetGuard, classifyAddress } from "../../server/src/platform/netguard.js";

// The platform's own database server in these tests: a port on this machine.
const OWN_PORT = 5999;
const SOURCE_PORT = 5432;
const guard = (allow: string[] = []) => new NetGuard(allow, async () => [{ host: "127.0.0.1", port: OWN_PORT }]);

/** What the guard answers for an address: "allowed" or the rule that refused it. */
async function decision(g: NetGuard, ip: string, port = SOURCE_PORT): Promise<string> {
  try {
    await g.resolve(ip, port);
    return "allowed";
  } catch (err) {
    if (!(err instanceof ForbiddenTarget)) throw err;
    if (/never allowed/.test(err.message)) return "never";
    if (/platform's own/.test(err.message)) return "own";
    if (/CAPYDB_IMPORT_ALLOWED_CIDRS/.test(err.message)) return "not public";
    return err.message;
  }
}

describe("addresses the old guard took for public", () => {
  // Each of these reached a loopback, private or reserved address on b404273.
  const cases: Array<[string, string, string]> = [
    ["::127.0.0.1", "127.0.0.1", "IPv4-compatible loopback"],
    ["::7f00:1", "127.0.0.1", "the same, written in hex"],
    ["64:ff9b::7f00:1", "127.0.0.1", "NAT64 of loopback"],
    ["64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64 of the metadata service"],
    ["64:ff9b::a00:1", "10.0.0.1", "NAT64 of a private address"],
    ["::ffff:0:7f00:1", "127.0.0.1", "IPv4-translated loopback (RFC 6145)"],
    ["2002:7f00:1::", "127.0.0.1", "6to4 of loopback"],
    ["2002:c0a8:101::1", "192.168.1.1", "6to4 of a private address"],
    ["2002:a9fe:a9fe::", "169.254.169.254", "6to4 of the metadata service"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", "Teredo of loopback (client bits inverted)"],
  ];
  for (const [ip, inner, what] of cases) {
    it(`${ip}: ${what} is judged as ${inner}`, async () => {
      const v = classifyAddress(ip);
      expect(v.judged).toBe(inner);
      expect(v.carrier).not.toBeNull();
      expect(v.isPublic).toBe(false);
      expect(await decision(guard(), ip)).not.toBe("allowed");
    });
  }

  it("198.18.0.0/15 (benchmarking) and 240.0.0.0/4 (reserved) are not public", async () => {
    for (const ip of ["198.18.0.1", "198.19.255.254", "240.0.0.1", "254.255.255.255"]) {
      expect(classifyAddress(ip).isPublic, ip).toBe(false);
      expect(await decision(guard(), ip), ip).toBe("not public");
    }
  });

  it("the metadata service stays refused even when dressed as IPv6 and even when the operator allows everything", async () => {
    const open = guard(["0.0.0.0/0", "::/0"]);
    for (const ip of [
      "169.254.169.254",
      "::ffff:169.254.169.254",
      "::169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "2002:a9fe:a9fe::",
      "::ffff:0:a9fe:a9fe",
      "fd00:ec2::254",
      "100.100.100.200",
      "fe80::1",
    ]) {
      expect(await decision(open, ip), ip).toBe("never");
    }
  });

  it("the platform's own server on this machine is refused however loopback is written, whatever the allowlist", async () => {
    const open = guard(["0.0.0.0/0", "::/0"]);
    for (const ip of [
      "127.0.0.1",
      "127.0.0.2",
      "0.0.0.0",
      "::1",
      "::",
      "::ffff:127.0.0.1",
      "::127.0.0.1",
      "::ffff:0:7f00:1",
      "64:ff9b::7f00:1",
      "2002:7f00:1::",
      "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ]) {
      expect(await decision(open, ip, OWN_PORT), ip).toBe("own");
    }
    // another port on loopback is an operator's choice
    expect(await decision(open, "::ffff:127.0.0.1", SOURCE_PORT)).toBe("allowed");
  });
});

describe("a table of decisions", () => {
  const table: Array<[string, string, boolean]> = [
    // [address, ipaddr.js range of what is judged, public]
    ["8.8.8.8", "unicast", true],
    ["1.1.1.1", "unicast", true],
    ["2606:4700:4700::1111", "unicast", true],
    ["64:ff9b::808:808", "unicast", true], // NAT64 of a public address reaches that address
    ["2002:808:808::1", "unicast", true], // 6to4 of a public address
    ["::ffff:8.8.8.8", "unicast", true],
    ["0.0.0.0", "unspecified", false],
    ["0.1.2.3", "unspecified", false],
    ["10.1.2.3", "private", false],
    ["172.16.0.1", "private", false],
    ["172.31.255.255", "private", false],
    ["192.168.0.1", "private", false],
    ["100.64.0.1", "carrierGradeNat", false],
    ["127.0.0.1", "loopback", false],
    ["169.254.0.1", "linkLocal", false],
    ["192.0.0.8", "reserved", false], // IETF protocol assignments
    ["192.0.2.1", "reserved", false], // TEST-NET-1
    ["198.51.100.1", "reserved", false], // TEST-NET-2
    ["203.0.113.1", "reserved", false], // TEST-NET-3
    ["192.88.99.1", "reserved", false], // 6to4 relay anycast
    ["224.0.0.1", "multicast", false],
    ["239.255.255.250", "multicast", false],
    ["255.255.255.255", "broadcast", false],
    ["::", "unspecified", false],
    ["::1", "loopback", false],
    ["fe80::1", "linkLocal", false],
    ["fe80::1%eth0", "linkLocal", false],
    ["fec0::1", "deprecatedSiteLocal", false],
    ["fc00::1", "uniqueLocal", false],
    ["fd12:3456::1", "uniqueLocal", false],
    ["ff02::1", "multicast", false],
    ["2001:db8::1", "reserved", false], // documentation
    ["3fff::1", "reserved", false], // documentation (RFC 9637)
    ["2001:2::1", "benchmarking", false],
    ["100::1", "discard", false],
    ["64:ff9b:1::a00:1", "rfc6052", false], // local-use NAT64 (RFC 8215): never global
    ["4000::1", "reserved", false], // outside 2000::/3: unassigned
    ["::ffff:10.0.0.1", "private", false],
    ["::ffff:100.64.0.1", "carrierGradeNat", false],
    ["not-an-address", "not an IP address", false],
    ["127.1", "not an IP address", false], // only the strict dotted quad is an address here
  ];
  for (const [ip, range, isPublic] of table) {
    it(`${ip} → ${range}, ${isPublic ? "public" : "not public"}`, () => {
      const v = classifyAddress(ip);
      expect(v.range).toBe(range);
      expect(v.isPublic).toBe(isPublic);
    });
  }

  it("public addresses pass the guard with no allowlist; the rest are refused", async () => {
    const g = guard();
    for (const [ip, range, isPublic] of table) {
      if (range === "not an IP address") continue;
      const d = await decision(g, ip);
      if (isPublic) expect(d, ip).toBe("allowed");
      else expect(d, ip).toMatch(/^(not public|never)$/);
    }
  });

  it("the operator's allowlist admits private ranges, matched against the IPv4 address a wrapper carries", async () => {
    const g = guard(["10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112"]);
    expect(await decision(g, "10.1.2.3")).toBe("allowed");
    expect(await decision(g, "::ffff:10.1.2.3")).toBe("allowed");
    expect(await decision(g, "64:ff9b::a01:203")).toBe("allowed");
    expect(await decision(g, "fd12::1")).toBe("allowed");
    expect(await decision(g, "192.168.4.5")).toBe("allowed"); // the mapped range is the IPv4 range
    expect(await decision(g, "172.16.0.1")).toBe("not public");
    expect(await decision(g, "127.0.0.1")).toBe("not public");
    expect(await decision(g, "::127.0.0.1")).toBe("not public");
  });

  it("the refusal names the address, what it carries and the setting that would allow it", async () => {
    await expect(guard().resolve("::ffff:0:7f00:1", 5432)).rejects.toThrow(
      /^source_url: ::ffff:0:7f00:1 resolves to ::ffff:0:7f00:1 \(IPv4-translated, carrying 127\.0\.0\.1\), in the loopback range, which is not publicly routable; .*CAPYDB_IMPORT_ALLOWED_CIDRS/,
    );
  });

  it("a bad allowlist entry stops the server with a message naming the setting", () => {
    for (const bad of ["10.0.0.0/33", "10.0.0/8", "example.com", "fe80::1%eth0/64", "::/129", "10.0.0.0/8/8"]) {
      expect(() => guard([bad]), bad).toThrow(/^CAPYDB_IMPORT_ALLOWED_CIDRS: /);
    }
  });
});
