import { crc32 } from "node:zlib";
import { z } from "zod";
import { KvError } from "./errors.ts";

/** Key of the manifest, relative to the database's remote location. */
export const MANIFEST_KEY = "kv-manifest.json";
/** Folder of the immutable segment objects. */
export const SEGMENTS_PREFIX = "segments/";
export const MANIFEST_FORMAT = "s3kit-kv";
export const MANIFEST_VERSION = 1;
/** Eight bytes at the start of a segment's trailer. */
export const SEGMENT_MAGIC = Buffer.from("KVSEG001", "latin1");
/** magic(8) | indexLength u32 | indexCrc32 u32 | entryCount u32 | reserved u32, little-endian. */
export const TRAILER_BYTES = 24;
const ENTRY_FIXED_BYTES = 2 + 1 + 8 + 8 + 4 + 4;
const FLAG_TOMBSTONE = 1;

/**
 * A segment key as this library writes it (`segments/<id>.kvseg`): one plain name below the segments folder.
 * A manifest naming anything else (`segments/../x`, a nested path) is corrupt or hostile: refused as
 * `kv.integrity` naming the manifest, never sent to the store.
 */
const segmentKeySchema = z
  .string()
  .regex(/^segments\/[0-9A-Za-z_-]{1,128}\.kvseg$/, "a segment key is segments/<id>.kvseg");

const segmentSchema = z
  .object({
    id: z.string().min(1),
    key: segmentKeySchema,
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    indexOffset: z.number().int().nonnegative(),
    indexLength: z.number().int().nonnegative(),
    entries: z.number().int().nonnegative(),
  })
  .refine((s) => s.indexOffset + s.indexLength <= s.size, {
    message: "the footer index lies beyond the segment's size",
    path: ["indexOffset"],
  });

const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  version: z.number().int(),
  dbId: z.string().min(1),
  codec: z.string().min(1),
  generation: z.number().int().nonnegative(),
  updatedAt: z.string(),
  segments: z.array(segmentSchema),
  retired: z.array(z.object({ key: segmentKeySchema, retiredAt: z.number() })),
});

/** One immutable segment as the manifest lists it. */
export type SegmentRef = z.infer<typeof segmentSchema>;
/** The manifest: the commit point of the remote database. */
export type Manifest = z.infer<typeof manifestSchema>;

/** One entry of a segment's footer index. */
export interface SegmentEntry {
  key: string;
  tombstone: boolean;
  /** Modification time, µs since the epoch. */
  ts: number;
  /** Byte offset of the value in the segment (0 for tombstones). */
  offset: number;
  /** Value length in bytes. */
  length: number;
  /** CRC-32 of the encoded value. */
  crc: number;
}

/** Parse and check a manifest body. */
export function parseManifest(bytes: Uint8Array, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new KvError("kv.integrity", `The manifest ${where} is not valid JSON; restore it or push with flag "n".`, {
      cause: error,
    });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > MANIFEST_VERSION) {
    throw new KvError(
      "kv.unsupportedFormat",
      `The manifest ${where} has format version ${version}; this @toolkit/kv-store reads version ${MANIFEST_VERSION}. Upgrade the package.`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KvError(
      "kv.integrity",
      `The manifest ${where} is malformed at \`${issue.path.join(".")}\`: ${issue.message}. Is this an s3kit kv database?`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 1)}\n`;
}

/** Entries to pack into a segment. `value` is undefined for a tombstone. */
export interface PackEntry {
  key: string;
  ts: number;
  value: Uint8Array | undefined;
}

/** A packed segment: its bytes and what the manifest needs to know about it. */
export interface PackedSegment {
  body: Buffer;
  indexOffset: number;
  indexLength: number;
  entries: SegmentEntry[];
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, at);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/**
 * Pack values and tombstones into one segment: the values back to back, then the footer index
 * (per entry: keyLength u16 | key | flags u8 | ts u64 µs | offset u64 | length u32 | crc32 u32), then the trailer.
 */
export function packSegment(items: readonly PackEntry[]): PackedSegment {
  const chunks: Uint8Array[] = [];
  const entries: SegmentEntry[] = [];
  let offset = 0;
  let indexLength = 0;
  for (const item of items) {
    const value = item.value;
    const length = value?.byteLength ?? 0;
    entries.push({
      key: item.key,
      tombstone: value === undefined,
      ts: item.ts,
      offset: value === undefined ? 0 : offset,
      length,
      crc: value === undefined ? 0 : crc32(value),
    });
    if (value !== undefined && length > 0) chunks.push(value);
    offset += length;
    indexLength += ENTRY_FIXED_BYTES + Buffer.byteLength(item.key, "utf8");
  }
  const index = Buffer.allocUnsafe(indexLength);
  let at = 0;
  for (const entry of entries) {
    const keyLength = index.write(entry.key, at + 2, "utf8");
    index.writeUInt16LE(keyLength, at);
    at += 2 + keyLength;
    index.writeUInt8(entry.tombstone ? FLAG_TOMBSTONE : 0, at);
    writeU64(index, entry.ts, at + 1);
    writeU64(index, entry.offset, at + 9);
    index.writeUInt32LE(entry.length, at + 17);
    index.writeUInt32LE(entry.crc >>> 0, at + 21);
    at += 25;
  }
  const trailer = Buffer.alloc(TRAILER_BYTES);
  SEGMENT_MAGIC.copy(trailer, 0);
  trailer.writeUInt32LE(indexLength, 8);
  trailer.writeUInt32LE(crc32(index), 12);
  trailer.writeUInt32LE(entries.length, 16);
  chunks.push(index, trailer);
  return { body: Buffer.concat(chunks), indexOffset: offset, indexLength, entries };
}

/**
 * Parse a segment's footer: `bytes` holds the index followed by the trailer (what a ranged GET from
 * `indexOffset` to the end returns). Checks the magic, the length and the index CRC.
 */
export function parseFooter(bytes: Uint8Array, segmentKey: string): SegmentEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) =>
    new KvError(
      "kv.integrity",
      `Segment ${segmentKey} has a damaged footer (${why}); restore the object or compact from a replica that has the values.`,
    );
  if (buf.length < TRAILER_BYTES) throw bad("too short");
  const trailer = buf.subarray(buf.length - TRAILER_BYTES);
  if (!trailer.subarray(0, 8).equals(SEGMENT_MAGIC)) throw bad("bad magic");
  const indexLength = trailer.readUInt32LE(8);
  if (indexLength !== buf.length - TRAILER_BYTES) throw bad("index length mismatch");
  const index = buf.subarray(0, indexLength);
  if (crc32(index) !== trailer.readUInt32LE(12)) throw bad("index checksum mismatch");
  const count = trailer.readUInt32LE(16);
  const entries: SegmentEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 2 > index.length) throw bad("truncated entry");
    const keyLength = index.readUInt16LE(at);
    if (at + 2 + keyLength + 25 > index.length) throw bad("truncated entry");
    const key = index.toString("utf8", at + 2, at + 2 + keyLength);
    at += 2 + keyLength;
    entries.push({
      key,
      tombstone: (index.readUInt8(at) & FLAG_TOMBSTONE) !== 0,
      ts: readU64(index, at + 1),
      offset: readU64(index, at + 9),
      length: index.readUInt32LE(at + 17),
      crc: index.readUInt32LE(at + 21),
    });
    at += 25;
  }
  if (at !== index.length) throw bad("trailing bytes");
  return entries;
}

/** CRC-32 of a value, as stored in the footer. */
export function valueCrc(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}
