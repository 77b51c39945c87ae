// cty types (the type system of Terraform's values) and the values we hold in JavaScript.
//
// A value is: null, UNKNOWN, a string, a number, a boolean, an array (list or set), or a plain
// object (map or object). Objects always carry every attribute of their type.

export type CtyType = "string" | "number" | "bool" | { list: CtyType } | { set: CtyType } | { map: CtyType } | { object: Record<string, CtyType> };

/** The one unknown value ("known after apply"). */
export const UNKNOWN: unique symbol = Symbol.for("capydb.cty.unknown");
export type Unknown = typeof UNKNOWN;

export type Value = null | Unknown | string | number | boolean | Value[] | { [name: string]: Value };
export type ObjectValue = { [name: string]: Value };

export const isUnknown = (v: unknown): v is Unknown => v === UNKNOWN;

/** The compact JSON form Terraform uses for a type: "string", ["list","string"], ["object",{...}]. */
export function typeToJson(t: CtyType): unknown {
  if (typeof t === "string") return t;
  if ("list" in t) return ["list", typeToJson(t.list)];
  if ("set" in t) return ["set", typeToJson(t.set)];
  if ("map" in t) return ["map", typeToJson(t.map)];
  return ["object", Object.fromEntries(Object.entries(t.object).map(([k, v]) => [k, typeToJson(v)]))];
}

/** True when the value and everything inside it is known. */
export function isWhollyKnown(v: Value): boolean {
  if (v === UNKNOWN) return false;
  if (Array.isArray(v)) return v.every(isWhollyKnown);
  if (v !== null && typeof v === "object") return Object.values(v).every(isWhollyKnown);
  return true;
}

/** Structural equality; UNKNOWN equals only UNKNOWN. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === UNKNOWN || b === UNKNOWN) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => valuesEqual(item, b[i]));
  }
  if (typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && valuesEqual(a[k], (b as ObjectValue)[k]));
  }
  return false;
}

/** Replaces every UNKNOWN (at any depth) with null: a state after a failed apply must be known. */
export function unknownsToNull(v: Value): Value {
  if (v === UNKNOWN) return null;
  if (Array.isArray(v)) return v.map(unknownsToNull);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unknownsToNull(x)]));
  return v;
}
