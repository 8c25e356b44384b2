import { KvError } from "./errors.ts";

/** Turns values into bytes and back. `id` is stored with the database; opening with another id is an error. */
export interface Codec<V> {
  /** Stable name, e.g. `json`; stored in the local file and the remote manifest. */
  readonly id: string;
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

/** The built-in codecs by name. */
export type CodecName = "json" | "string" | "bytes";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON text in UTF-8 (`JSON.stringify` / `JSON.parse`). `undefined`, functions, symbols, BigInt and cycles are refused. */
export const jsonCodec: Codec<unknown> = {
  id: "json",
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} has no JSON representation`);
    return Buffer.from(text, "utf8");
  },
  decode(bytes) {
    return JSON.parse(utf8Decoder.decode(bytes));
  },
};

/** Strings stored as UTF-8. */
export const stringCodec: Codec<string> = {
  id: "string",
  encode(value) {
    if (typeof value !== "string") throw new TypeError(`expected a string, got ${typeof value}`);
    if (!value.isWellFormed()) throw new TypeError("the string contains a lone surrogate");
    return Buffer.from(value, "utf8");
  },
  decode(bytes) {
    return utf8Decoder.decode(bytes);
  },
};

/** Raw bytes, stored as they are. */
export const bytesCodec: Codec<Uint8Array> = {
  id: "bytes",
  encode(value) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${describe(value)}`);
    return value;
  },
  decode(bytes) {
    return bytes;
  },
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

const CODEC_ID = /^[A-Za-z0-9._/:-]{1,100}$/;

/** Resolve a codec option (a name or a custom codec) and check its shape. */
export function resolveCodec<V>(codec: CodecName | Codec<V> | undefined): Codec<V> {
  if (codec === undefined || codec === "json") return jsonCodec as Codec<V>;
  if (codec === "string") return stringCodec as unknown as Codec<V>;
  if (codec === "bytes") return bytesCodec as unknown as Codec<V>;
  if (
    typeof codec !== "object" ||
    codec === null ||
    typeof codec.id !== "string" ||
    typeof codec.encode !== "function" ||
    typeof codec.decode !== "function"
  ) {
    throw new KvError(
      "kv.invalidOptions",
      `Expected \`codec\` to be "json", "string", "bytes" or { id, encode, decode }, got \`${String(codec)}\`.`,
    );
  }
  if (!CODEC_ID.test(codec.id)) {
    throw new KvError(
      "kv.invalidOptions",
      `Expected \`codec.id\` to match ${CODEC_ID} (1-100 characters), got ${JSON.stringify(codec.id)}.`,
    );
  }
  return codec;
}

/** Encode with a codec, turning its failures into `kv.invalidValue` naming the key. */
export function encodeValue<V>(codec: Codec<V>, key: string, value: V): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(value);
  } catch (error) {
    throw new KvError(
      "kv.invalidValue",
      `Cannot encode the value of key ${JSON.stringify(key)} with codec \`${codec.id}\`: ${(error as Error).message}.`,
      { cause: error, keys: [key] },
    );
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new KvError(
      "kv.invalidValue",
      `Codec \`${codec.id}\` returned ${describe(bytes)} for key ${JSON.stringify(key)}; encode must return a Uint8Array.`,
      { keys: [key] },
    );
  }
  return bytes;
}

/** Decode with a codec, turning its failures into `kv.invalidValue` naming the key. */
export function decodeValue<V>(codec: Codec<V>, key: string, bytes: Uint8Array): V {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new KvError(
      "kv.invalidValue",
      `Cannot decode the value of key ${JSON.stringify(key)} with codec \`${codec.id}\`: ${(error as Error).message}.`,
      { cause: error, keys: [key] },
    );
  }
}
