// The plugin's TLS server certificate, made fresh at every start.
//
// Terraform's plugin client trusts exactly the certificate we print in the handshake line, checks
// it for the name "localhost" (a DNS SAN: Go ignores the CN), the serverAuth usage, and its
// validity window, so notBefore is set a little in the past to survive clock skew.
//
// An ECDSA P-256 key comes from Node's crypto in well under a millisecond, where an RSA key would
// cost tens to hundreds; node-forge only signs RSA certificates, so we build the X.509 structure
// with node-forge's ASN.1 encoder (that module alone: see types/node-forge-lib.d.ts) and sign it
// with Node's crypto.
import crypto from "node:crypto";
import type forge from "node-forge";
import asn1 from "node-forge/lib/asn1.js";

const { Class, Type } = asn1;

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  organizationName: "2.5.4.10",
  commonName: "2.5.4.3",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

export interface ServerCertificate {
  /** The certificate, DER. */
  der: Buffer;
  certPem: string;
  keyPem: string;
}

const seq = (items: forge.asn1.Asn1[]) => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
const set = (items: forge.asn1.Asn1[]) => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
const oid = (dotted: string) => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(dotted).getBytes());
const bool = (value: boolean) => asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, value ? "\xff" : "\x00");
const octets = (inner: forge.asn1.Asn1) => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, asn1.toDer(inner).getBytes());
const bits = (bytes: string) => asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, bytes);
const utf8 = (text: string) => asn1.create(Class.UNIVERSAL, Type.UTF8, false, Buffer.from(text, "utf8").toString("binary"));
const utcTime = (date: Date) => asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(date));
const binary = (buf: Buffer) => buf.toString("binary");

function name(): forge.asn1.Asn1 {
  return seq([set([seq([oid(OID.organizationName), utf8("CapyDB")])]), set([seq([oid(OID.commonName), utf8("localhost")])])]);
}

function extension(id: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq(critical ? [oid(id), bool(true), octets(value)] : [oid(id), octets(value)]);
}

/** A self-signed certificate for "localhost", valid from 30 s ago for `validHours`. */
export function makeServerCertificate(validHours = 24 * 365): ServerCertificate {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = asn1.fromDer(binary(publicKey.export({ type: "spki", format: "der" })));

  // A positive serial: 16 random bytes with the top bit cleared (Go refuses negative serials).
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  const notBefore = new Date(Date.now() - 30_000);
  const notAfter = new Date(notBefore.getTime() + validHours * 3_600_000);
  const signatureAlgorithm = seq([oid(OID.ecdsaWithSha256)]);

  const extensions = [
    // keyUsage: digitalSignature (bit 0) and keyCertSign (bit 5) → 1000 0100, 2 unused bits.
    extension(OID.keyUsage, true, bits("\x02\x84")),
    extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])),
    // Self-signed, so it is its own authority (as go-plugin's own certificates are).
    extension(OID.basicConstraints, true, seq([bool(true)])),
    // dNSName [2] IMPLICIT IA5String
    extension(OID.subjectAltName, false, seq([asn1.create(Class.CONTEXT_SPECIFIC, 2, false, "localhost")])),
  ];

  const tbs = seq([
    asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(Class.UNIVERSAL, Type.INTEGER, false, "\x02")]), // v3
    asn1.create(Class.UNIVERSAL, Type.INTEGER, false, binary(serial)),
    signatureAlgorithm,
    name(),
    seq([utcTime(notBefore), utcTime(notAfter)]),
    name(),
    spki,
    asn1.create(Class.CONTEXT_SPECIFIC, 3, true, [seq(extensions)]),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), "binary");
  const signature = crypto.sign("sha256", tbsDer, { key: privateKey, dsaEncoding: "der" });
  const cert = seq([tbs, seq([oid(OID.ecdsaWithSha256)]), bits("\x00" + binary(signature))]);
  const der = Buffer.from(asn1.toDer(cert).getBytes(), "binary");

  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { der, certPem, keyPem };
}
