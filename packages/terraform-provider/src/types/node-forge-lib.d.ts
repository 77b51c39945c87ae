// node-forge's ASN.1 module on its own (node-forge/lib/asn1.js): the whole library costs ~60 ms
// to load at every provider start, and we only need its DER encoder.
declare module "node-forge/lib/asn1.js" {
  import type forge from "node-forge";
  const asn1: typeof forge.asn1;
  export default asn1;
}
