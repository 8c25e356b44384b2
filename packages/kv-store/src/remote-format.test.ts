import { describe, expect, it } from "vitest";
import { isKvError } from "./errors.ts";
import { packSegment, parseFooter, parseManifest, TRAILER_BYTES } from "./remote-format.ts";

describe("segment format", () => {
  const items = [
    { key: "a", ts: 1_700_000_000_000_001, value: Buffer.from("one") },
    { key: "ключ/ü", ts: 2 ** 52 + 3, value: Buffer.alloc(0) },
    { key: "gone", ts: 5, value: undefined },
    { key: "z".repeat(1024), ts: 7, value: Buffer.alloc(70_000, 9) },
  ];

  it("round-trips values, tombstones and big timestamps through the footer", () => {
    const packed = packSegment(items);
    const footer = parseFooter(packed.body.subarray(packed.indexOffset), "seg");
    expect(footer).toEqual(packed.entries);
    expect(footer.map((e) => [e.key, e.tombstone, e.ts, e.length])).toEqual([
      ["a", false, 1_700_000_000_000_001, 3],
      ["ключ/ü", false, 2 ** 52 + 3, 0],
      ["gone", true, 5, 0],
      ["z".repeat(1024), false, 7, 70_000],
    ]);
    const a = footer[0]!;
    expect(packed.body.subarray(a.offset, a.offset + a.length).toString()).toBe("one");
    expect(packed.body.length).toBe(packed.indexOffset + packed.indexLength + TRAILER_BYTES);
  });

  it("a flipped byte in the footer is kv.integrity naming the segment", () => {
    const packed = packSegment(items);
    const footer = Buffer.from(packed.body.subarray(packed.indexOffset));
    footer[5]! ^= 1;
    try {
      parseFooter(footer, "segments/x.kvseg");
      expect.unreachable();
    } catch (error) {
      expect(isKvError(error, "kv.integrity")).toBe(true);
      expect((error as Error).message).toContain("segments/x.kvseg");
    }
    expect(() => parseFooter(footer.subarray(10), "s")).toThrow(/damaged footer/);
  });

  it("manifests: malformed, foreign and future ones are clear errors", () => {
    expect(() => parseManifest(Buffer.from("{nope"), "m")).toThrow(/not valid JSON/);
    expect(() => parseManifest(Buffer.from('{"hello":1}'), "m")).toThrow(/malformed/);
    try {
      parseManifest(Buffer.from('{"format":"s3kit-kv","version":9}'), "m");
      expect.unreachable();
    } catch (error) {
      expect(isKvError(error, "kv.unsupportedFormat")).toBe(true);
    }
  });
});
