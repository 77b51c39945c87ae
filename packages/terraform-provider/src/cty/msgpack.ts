// Values in Terraform's wire formats: cty's msgpack encoding (what DynamicValue.msgpack carries)
// and its JSON encoding (raw state in UpgradeResourceState, DynamicValue.json).
//
// msgpack facts we honour: an object is a map listing every attribute of its type; null is nil;
// an unknown value is extension type 0 (we write the 3 bytes d4 00 00 and accept any payload,
// because newer Terraform also sends refinements of unknowns, e.g. "not null", in that payload);
// numbers arrive as integers, floats or decimal strings.
import { Decoder, Encoder, ExtensionCodec } from "@msgpack/msgpack";
import { type CtyType, type ObjectValue, type Value, UNKNOWN } from "./types.js";

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: 0,
  encode: (input: unknown) => (input === UNKNOWN ? new Uint8Array([0]) : null),
  decode: () => UNKNOWN,
});
// cty marks refined unknowns with extension type 12 in some versions: unknown as well.
extensionCodec.register({ type: 12, encode: () => null, decode: () => UNKNOWN });

const encoder = new Encoder({ extensionCodec, ignoreUndefined: false });
const decoder = new Decoder({ extensionCodec });

export class ValueError extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(path.length ? `${path.join(".")}: ${message}` : message);
  }
}

function toNumber(raw: unknown, path: string[]): number {
  if (typeof raw === "number") return raw;
  if (typeof raw === "bigint") return Number(raw);
  if (typeof raw === "string" && raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw);
  throw new ValueError(path, `expected a number, got ${typeof raw}`);
}

/**
 * Shapes a decoded value to a type: numbers become numbers, objects get every attribute of the
 * type (absent → null) and lose any other, collections are checked. UNKNOWN and null pass through.
 */
export function conform(t: CtyType, raw: unknown, path: string[] = []): Value {
  if (raw === null || raw === undefined) return null;
  if (raw === UNKNOWN) return UNKNOWN;
  if (t === "string") {
    if (typeof raw !== "string") throw new ValueError(path, `expected a string, got ${typeof raw}`);
    return raw;
  }
  if (t === "number") return toNumber(raw, path);
  if (t === "bool") {
    if (typeof raw !== "boolean") throw new ValueError(path, `expected a bool, got ${typeof raw}`);
    return raw;
  }
  if ("list" in t || "set" in t) {
    const element = "list" in t ? t.list : t.set;
    if (!Array.isArray(raw)) throw new ValueError(path, "expected a list");
    return raw.map((item, i) => conform(element, item, [...path, String(i)]));
  }
  if (typeof raw !== "object" || Array.isArray(raw) || raw instanceof Uint8Array) throw new ValueError(path, "expected an object");
  const obj = raw as Record<string, unknown>;
  if ("map" in t) {
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, conform(t.map, v, [...path, k])]));
  }
  const out: ObjectValue = {};
  for (const [name, at] of Object.entries(t.object)) out[name] = conform(at, obj[name], [...path, name]);
  return out;
}

/** Encodes a value of type `t` as cty msgpack. */
export function encodeValue(t: CtyType, value: Value): Uint8Array {
  return encoder.encode(conform(t, value));
}

/** Decodes cty msgpack into a value of type `t`. */
export function decodeValue(t: CtyType, bytes: Uint8Array): Value {
  return conform(t, decoder.decode(bytes));
}

/** Decodes cty JSON (no unknowns in JSON) into a value of type `t`. */
export function decodeJsonValue(t: CtyType, bytes: Uint8Array): Value {
  return conform(t, JSON.parse(Buffer.from(bytes).toString("utf8")));
}
