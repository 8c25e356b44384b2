import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isObjectStoreError } from "../errors.ts";
import { createSizeLimit, keyToLocalPath, parseRemote, parseSha256Hex, parseSize } from "./remote-input.ts";

const HASH = "a".repeat(64);

describe("parseSha256Hex", () => {
  it("accepts 64 lowercase hex and refuses paths, uppercase and wrong lengths", () => {
    expect(parseSha256Hex(HASH, "h")).toBe(HASH);
    for (const bad of ["../../../../home/me/notes.txt", HASH.toUpperCase(), `${HASH}0`, "", `${"a".repeat(63)}/`, 42]) {
      expect(() => parseSha256Hex(bad, "metadata dg-file-sha256")).toThrow(
        /metadata dg-file-sha256 is .*64 lowercase hex/,
      );
    }
  });
});

describe("parseSize", () => {
  it("accepts safe non-negative integers as numbers or digit strings", () => {
    expect(parseSize("0", "s")).toBe(0);
    expect(parseSize(1024, "s")).toBe(1024);
  });
  it("refuses negatives, fractions, exponents, huge values and values over the cap", () => {
    for (const bad of ["-1", "1.5", "1e9", " 1", "99999999999999999", -1, 1.5, Number.NaN, "", "0x10"]) {
      expect(() => parseSize(bad, "metadata dg-file-size")).toThrow(/metadata dg-file-size is .*non-negative integer/);
    }
    expect(() => parseSize("11", "size", 10)).toThrow(/larger than the allowed 10 bytes/);
  });
});

describe("parseRemote", () => {
  it("returns the parsed value or one invalidRemoteData error naming the input and the path", () => {
    const schema = z.object({ n: z.number() });
    expect(parseRemote(schema, { n: 1 }, "manifest")).toEqual({ n: 1 });
    try {
      parseRemote(schema, { n: "x" }, "manifest s3://b/m.json");
      expect.unreachable();
    } catch (error) {
      expect(isObjectStoreError(error, "invalidRemoteData")).toBe(true);
      expect((error as Error).message).toMatch(/^manifest s3:\/\/b\/m\.json is not valid at n:/);
    }
  });
});

describe("keyToLocalPath", () => {
  it("joins plain keys under the root on POSIX and on Windows", () => {
    expect(keyToLocalPath("/t", "a/b c/d.jpg", { platform: "linux" })).toEqual({
      relative: "a/b c/d.jpg",
      absolute: "/t/a/b c/d.jpg",
    });
    expect(keyToLocalPath("C:\\t", "a/b/d.jpg", { platform: "win32" })).toEqual({
      relative: "a\\b\\d.jpg",
      absolute: "C:\\t\\a\\b\\d.jpg",
    });
    // On POSIX a backslash and a colon are ordinary file-name characters.
    expect(keyToLocalPath("/t", "x\\..\\y:z", { platform: "linux" }).absolute).toBe("/t/x\\..\\y:z");
  });

  const everywhere = ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\0b"];
  const windowsOnly = [
    "a\\..\\..\\x",
    "C:x",
    "c:/x",
    "con",
    "NUL.txt",
    "a/COM1.jpg",
    "lpt9",
    "a/b.",
    "a/b ",
    'a"b',
    "a*b",
    "a\u0001b",
  ];
  it.each(everywhere)("refuses %j on POSIX and Windows", (key) => {
    expect(() => keyToLocalPath("/t", key, { platform: "linux" })).toThrow(/cannot become a local path/);
    expect(() => keyToLocalPath("C:\\t", key, { platform: "win32" })).toThrow(/cannot become a local path/);
  });
  it.each(windowsOnly)("refuses %j on Windows", (key) => {
    expect(() => keyToLocalPath("C:\\t", key, { platform: "win32" })).toThrow(/cannot become a local path/);
  });
});

describe("createSizeLimit", () => {
  it("passes data up to the limit and fails past it before the excess is written", async () => {
    const out: Buffer[] = [];
    const sink = async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    };
    await pipeline(Readable.from([Buffer.alloc(5), Buffer.alloc(5)]), createSizeLimit(10, "x"), sink);
    expect(Buffer.concat(out).length).toBe(10);
    out.length = 0;
    await expect(
      pipeline(Readable.from([Buffer.alloc(5), Buffer.alloc(6)]), createSizeLimit(10, "s3://b/x.delta decoded"), sink),
    ).rejects.toThrow(/s3:\/\/b\/x\.delta decoded is larger than its declared 10 bytes/);
    expect(Buffer.concat(out).length).toBeLessThanOrEqual(10);
  });
});
