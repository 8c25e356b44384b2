import { describe, expect, it } from "vitest";
import { isDeltaError } from "./errors.ts";
import { deltaMetadata, generationOf, parseDeltaMeta, parseDirectMeta, readMeta, referenceSha256 } from "./metadata.ts";
import { isLocalPath } from "./sync.ts";

describe("dg-* metadata", () => {
  it("reads canonical and legacy spellings", () => {
    expect(readMeta({ "dg-file-sha256": "a" }, "file-sha256")).toBe("a");
    expect(readMeta({ dg_file_sha256: "b" }, "file-sha256")).toBe("b");
    expect(readMeta({ file_sha256: "c" }, "file-sha256")).toBe("c");
    expect(readMeta({ "file-sha256": "d" }, "file-sha256")).toBe("d");
    expect(readMeta({ ref_key: "e" }, "ref-key")).toBe("e");
    expect(readMeta({}, "file-sha256")).toBeUndefined();
  });

  it("writes what DeltaGlider writes and parses it back, defaulting the engine to xdelta3", () => {
    const written = deltaMetadata({
      originalName: "a.zip",
      fileSha256: "f".repeat(64),
      fileSize: 10,
      refKey: "p/reference.bin",
      refSha256: "0".repeat(64),
      deltaSize: 3,
      engine: "zstd",
      deltaCmd: "zstd",
      zstdWindowLog: 27,
      generation: 3,
    });
    expect(Object.keys(written).every((k) => k.startsWith("dg-"))).toBe(true);
    expect(parseDeltaMeta(written)).toMatchObject({ engine: "zstd", zstdWindowLog: 27, fileSize: 10 });
    const { "dg-engine": _engine, ...deltaglider } = written;
    expect(parseDeltaMeta(deltaglider)?.engine).toBe("xdelta3");
    expect(parseDeltaMeta({ "dg-file-size": "1" })).toBeUndefined();
    expect(generationOf(written)).toBe(3);
    expect(generationOf({})).toBe(0);
    expect(generationOf({ "dg-generation": "-1" })).toBe(0);
    expect(new TextEncoder().encode(JSON.stringify(written)).length).toBeLessThan(2048);
  });

  it("refuses hashes that are not 64 lowercase hex and sizes that are not safe non-negative integers", () => {
    const good = {
      "dg-file-sha256": "a".repeat(64),
      "dg-file-size": "10",
      "dg-ref-key": "p/reference.bin",
      "dg-ref-sha256": "b".repeat(64),
    };
    expect(parseDeltaMeta(good)).toMatchObject({ fileSize: 10, refSha256: "b".repeat(64) });
    for (const bad of <Record<string, string>[]>[
      { "dg-ref-sha256": "../../../../x/notes.txt" },
      { "dg-file-sha256": "/etc/passwd" },
      { "dg-ref-sha256": "B".repeat(64) },
      { "dg-file-size": "-1" },
      { "dg-file-size": "1e9" },
      { "dg-file-size": "99999999999999999" },
      { "dg-delta-size": "x" },
      { "dg-zstd-window-log": "40" },
    ]) {
      expect(() => parseDeltaMeta({ ...good, ...bad }, "s3://b/x.delta")).toThrow(
        expect.objectContaining({ code: "delta.integrity", message: expect.stringContaining("s3://b/x.delta") }),
      );
    }
    try {
      parseDeltaMeta({ ...good, "dg-ref-sha256": "../../x" }, "s3://b/x.delta");
    } catch (error) {
      expect(isDeltaError(error, "delta.integrity")).toBe(true);
      expect((error as Error).message).toMatch(
        /dg-ref-sha256 of s3:\/\/b\/x\.delta is "\.\.\/\.\.\/x": expected 64 lowercase hex/,
      );
    }
    expect(() => parseDirectMeta({ "dg-file-sha256": "../x" }, "d")).toThrow(/64 lowercase hex/);
    expect(() => parseDirectMeta({ "dg-file-size": "-5" }, "d")).toThrow(/non-negative integer/);
    expect(parseDirectMeta({}, "d")).toEqual({});
    expect(referenceSha256({ "dg-file-sha256": "../../x" })).toBeUndefined();
    expect(referenceSha256({ "dg-file-sha256": "c".repeat(64) })).toBe("c".repeat(64));
  });

  it("tells local paths from store prefixes", () => {
    for (const p of ["/tmp/x", "./dist", "../dist", ".", "C:\\dist"]) expect(isLocalPath(p)).toBe(true);
    for (const p of ["app/", "app", "releases/app/"]) expect(isLocalPath(p)).toBe(false);
  });
});
