import { describe, expect, it } from "vitest";
import { deltaMetadata, parseDeltaMeta, readMeta } from "./metadata.ts";
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
    });
    expect(Object.keys(written).every((k) => k.startsWith("dg-"))).toBe(true);
    expect(parseDeltaMeta(written)).toMatchObject({ engine: "zstd", zstdWindowLog: 27, fileSize: 10 });
    const { "dg-engine": _engine, ...deltaglider } = written;
    expect(parseDeltaMeta(deltaglider)?.engine).toBe("xdelta3");
    expect(parseDeltaMeta({ "dg-file-size": "1" })).toBeUndefined();
    expect(new TextEncoder().encode(JSON.stringify(written)).length).toBeLessThan(2048);
  });

  it("tells local paths from store prefixes", () => {
    for (const p of ["/tmp/x", "./dist", "../dist", ".", "C:\\dist"]) expect(isLocalPath(p)).toBe(true);
    for (const p of ["app/", "app", "releases/app/"]) expect(isLocalPath(p)).toBe(false);
  });
});
