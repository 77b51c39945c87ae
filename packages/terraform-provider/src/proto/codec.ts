// A small protobuf (proto3) codec driven by message descriptors (proto/messages.ts).
//
// Why not @grpc/proto-loader at run time: loading protobufjs and parsing the .proto files costs
// ~150 ms of a provider start whose whole budget is 300 ms, and Terraform starts the provider
// several times per command. The descriptors are checked against proto/*.proto by a test that
// parses them with @grpc/proto-loader and round-trips messages through both codecs.

export type ScalarKind = "string" | "bytes" | "bool" | "int64" | "enum";

export interface MapKind {
  map: { key: "string"; value: ScalarKind | MessageDescriptor };
}

export type FieldKind = ScalarKind | MessageDescriptor | MapKind;

export interface FieldDescriptor {
  name: string;
  no: number;
  kind: FieldKind;
  repeated?: boolean;
  /** A oneof member: encoded whenever set, even to its default value. */
  oneof?: boolean;
}

export interface MessageDescriptor {
  /** The full protobuf name, e.g. "tfplugin6.Diagnostic". */
  name: string;
  /** Filled in lazily so descriptors may refer to each other. */
  fields: () => FieldDescriptor[];
}

export type Message = Record<string, unknown>;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

function isMessageKind(kind: FieldKind): kind is MessageDescriptor {
  return typeof kind === "object" && "fields" in kind;
}

function isMapKind(kind: FieldKind): kind is MapKind {
  return typeof kind === "object" && "map" in kind;
}

// ---------------------------------------------------------------- writing

class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(256, n, this.buf.length * 2));
    this.pos = 0;
  }

  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (v < 0x80000000n) {
      // The common case without BigInt arithmetic in the loop.
      let n = Number(v);
      this.ensure(5);
      while (n > 0x7f) {
        this.buf[this.pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      this.buf[this.pos++] = n;
      return;
    }
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(no: number, wire: number): void {
    this.varint((no << 3) | wire);
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  finish(): Buffer {
    const parts = [...this.chunks, this.buf.subarray(0, this.pos)];
    return Buffer.concat(parts);
  }
}

function isDefaultScalar(kind: ScalarKind, value: unknown): boolean {
  switch (kind) {
    case "string":
      return value === "";
    case "bytes":
      return (value as Uint8Array).length === 0;
    case "bool":
      return value === false;
    default:
      return value === 0;
  }
}

function writeScalar(w: Writer, no: number, kind: ScalarKind, value: unknown): void {
  switch (kind) {
    case "string":
      w.tag(no, WIRE_LEN);
      w.bytes(utf8.encode(String(value)));
      return;
    case "bytes":
      w.tag(no, WIRE_LEN);
      w.bytes(value as Uint8Array);
      return;
    case "bool":
      w.tag(no, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    default:
      w.tag(no, WIRE_VARINT);
      w.varint(value as number);
  }
}

function writeField(w: Writer, field: FieldDescriptor, value: unknown, presence: boolean): void {
  const { kind, no } = field;
  if (isMessageKind(kind)) {
    w.tag(no, WIRE_LEN);
    w.bytes(encodeMessage(kind, value as Message));
  } else if (isMapKind(kind)) {
    throw new Error("map values are written by writeMap");
  } else if (presence || !isDefaultScalar(kind, value)) {
    writeScalar(w, no, kind, value);
  }
}

const MAP_KEY: FieldDescriptor = { name: "key", no: 1, kind: "string" };

export function encodeMessage(desc: MessageDescriptor, msg: Message): Buffer {
  const w = new Writer();
  for (const field of desc.fields()) {
    const value = msg[field.name];
    if (value === undefined || value === null) continue;
    if (isMapKind(field.kind)) {
      const valueField: FieldDescriptor = { name: "value", no: 2, kind: field.kind.map.value };
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const entry = new Writer();
        writeField(entry, MAP_KEY, k, false);
        if (v !== undefined && v !== null) writeField(entry, valueField, v, false);
        w.tag(field.no, WIRE_LEN);
        w.bytes(entry.finish());
      }
    } else if (field.repeated) {
      for (const item of value as unknown[]) writeField(w, field, item, true);
    } else {
      writeField(w, field, value, field.oneof === true);
    }
  }
  return w.finish();
}

// ---------------------------------------------------------------- reading

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error("protobuf: truncated varint");
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("protobuf: varint too long");
    }
  }

  smallVarint(): number {
    // Tags and lengths: fast path for values under 2^28.
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= this.buf.length) throw new Error("protobuf: truncated varint");
      const b = this.buf[this.pos++];
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    this.pos -= 4;
    return Number(this.varint());
  }

  lengthDelimited(): Uint8Array {
    const len = this.smallVarint();
    if (this.pos + len > this.buf.length) throw new Error("protobuf: truncated field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.pos += 4;
        return;
      default:
        throw new Error(`protobuf: unsupported wire type ${wire}`);
    }
  }
}

function defaultScalar(kind: ScalarKind): unknown {
  switch (kind) {
    case "string":
      return "";
    case "bytes":
      return Buffer.alloc(0);
    case "bool":
      return false;
    default:
      return 0;
  }
}

function readScalar(r: Reader, kind: ScalarKind, wire: number): unknown {
  switch (kind) {
    case "string":
      return utf8Decoder.decode(r.lengthDelimited());
    case "bytes":
      return Buffer.from(r.lengthDelimited());
    case "bool":
      return r.varint() !== 0n;
    case "enum":
      return Number(BigInt.asIntN(32, r.varint()));
    default: {
      if (wire !== WIRE_VARINT) throw new Error("protobuf: int64 must be a varint");
      return Number(BigInt.asIntN(64, r.varint()));
    }
  }
}

function readValue(r: Reader, kind: ScalarKind | MessageDescriptor, wire: number): unknown {
  return isMessageKind(kind) ? decodeMessage(kind, r.lengthDelimited()) : readScalar(r, kind, wire);
}

/** Decodes a message; absent scalars take their proto3 defaults, absent messages are undefined. */
export function decodeMessage(desc: MessageDescriptor, data: Uint8Array): Message {
  const fields = desc.fields();
  const byNumber = new Map(fields.map((f) => [f.no, f]));
  const out: Message = {};
  for (const f of fields) {
    if (isMapKind(f.kind)) out[f.name] = {};
    else if (f.repeated) out[f.name] = [];
    else if (!isMessageKind(f.kind) && !f.oneof) out[f.name] = defaultScalar(f.kind);
  }
  const r = new Reader(data);
  while (!r.done) {
    const tag = r.smallVarint();
    const no = tag >>> 3;
    const wire = tag & 7;
    const field = byNumber.get(no);
    if (!field) {
      r.skip(wire);
      continue;
    }
    const { kind } = field;
    if (isMapKind(kind)) {
      const entry = new Reader(r.lengthDelimited());
      let key = "";
      let value: unknown = isMessageKind(kind.map.value) ? undefined : defaultScalar(kind.map.value);
      while (!entry.done) {
        const t = entry.smallVarint();
        if (t >>> 3 === 1) key = readScalar(entry, "string", t & 7) as string;
        else if (t >>> 3 === 2) value = readValue(entry, kind.map.value, t & 7);
        else entry.skip(t & 7);
      }
      (out[field.name] as Record<string, unknown>)[key] = value;
    } else if (field.repeated) {
      (out[field.name] as unknown[]).push(readValue(r, kind, wire));
    } else {
      out[field.name] = readValue(r, kind, wire);
    }
  }
  return out;
}
