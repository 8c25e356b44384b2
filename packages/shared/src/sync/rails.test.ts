import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix, win32 } from "node:path";
import { describe, expect, test } from "vitest";
import { cacheDirectory } from "./cache-dir.ts";
import { META_MTIME, META_PART_SIZE, META_SHA256, parseSyncMetadata, syncMetadata } from "./metadata.ts";
import { isPartialDownload, partialPathFor, removeLeftoverPartials } from "./partial-files.ts";
import { checkDeleteRails, type DeleteRailsInput } from "./rails.ts";

const base: DeleteRailsInput = {
  source: "/src",
  destination: "s3://b/p/",
  sourceCount: 10,
  destinationCount: 10,
  deleteCount: 0,
  errorCount: 0,
};

describe("checkDeleteRails", () => {
  test("nothing to delete is never blocked, whatever else holds", () => {
    expect(checkDeleteRails({ ...base, sourceCount: 0, errorCount: 3 })).toBeUndefined();
  });

  test("rail 4: any scan or listing error drops the deletes, and says so", () => {
    const block = checkDeleteRails({ ...base, deleteCount: 1, errorCount: 2 });
    expect(block?.code).toBe("scanErrors");
    expect(block?.message).toMatch(/Not deleting 1 item.*2 path/);
  });

  test("rail 2: an empty source never empties the destination unless allowed, and the message names the flag", () => {
    const input = { ...base, sourceCount: 0, deleteCount: 10 };
    const block = checkDeleteRails(input);
    expect(block?.code).toBe("emptySource");
    expect(block?.message).toContain("--allow-empty-source");
    expect(block?.message).toContain("has 10");
    expect(block?.message).not.toContain("\n");
    // Allowed on purpose: neither rail 2 nor the share limit asks again.
    expect(checkDeleteRails({ ...input, allowEmptySource: true })).toBeUndefined();
    // An explicit count limit still holds.
    expect(checkDeleteRails({ ...input, allowEmptySource: true, maxDelete: 5 })?.code).toBe("tooManyDeletes");
  });

  test("rail 3: more than 50 % of the destination by default; both numbers and both flags are in the message", () => {
    const block = checkDeleteRails({ ...base, deleteCount: 6 });
    expect(block?.code).toBe("tooManyDeletes");
    expect(block?.message).toContain("6 of 10");
    expect(block?.message).toContain("60 %");
    expect(block?.message).toContain("--max-delete-percent 60");
    expect(block?.message).toContain("--max-delete 6");
    expect(checkDeleteRails({ ...base, deleteCount: 5 })).toBeUndefined();
  });

  test("rail 3: the share flag lifts it; an explicit count replaces the share limit unless both are given", () => {
    const input = { ...base, deleteCount: 6 };
    expect(checkDeleteRails({ ...input, maxDeletePercent: 60 })).toBeUndefined();
    expect(checkDeleteRails({ ...input, maxDelete: 6 })).toBeUndefined();
    expect(checkDeleteRails({ ...input, maxDelete: 5 })?.message).toMatch(/6 of 10.*limit of 5\b.*--max-delete 6/);
    expect(checkDeleteRails({ ...input, maxDelete: 100, maxDeletePercent: 50 })?.code).toBe("tooManyDeletes");
    expect(checkDeleteRails({ ...input, maxDelete: 0 })?.code).toBe("tooManyDeletes");
  });
});

describe("cacheDirectory", () => {
  test("follows each platform's convention, with that platform's path rules", () => {
    expect(cacheDirectory(["sync-state"], { platform: "linux", env: {}, home: "/home/ana" })).toBe(
      posix.join("/home/ana", ".cache", "s3kit", "sync-state"),
    );
    expect(cacheDirectory([], { platform: "linux", env: { XDG_CACHE_HOME: "/xdg" }, home: "/home/ana" })).toBe(
      "/xdg/s3kit",
    );
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    expect(cacheDirectory([], { platform: "linux", env: { XDG_CACHE_HOME: "rel" }, home: "/h" })).toBe(
      "/h/.cache/s3kit",
    );
    expect(cacheDirectory(["x"], { platform: "darwin", env: {}, home: "/Users/ana" })).toBe(
      "/Users/ana/Library/Caches/s3kit/x",
    );
    expect(
      cacheDirectory(["x"], {
        platform: "win32",
        env: { LOCALAPPDATA: "C:\\Users\\ana\\AppData\\Local" },
        home: "C:\\Users\\ana",
      }),
    ).toBe(win32.join("C:\\Users\\ana\\AppData\\Local", "s3kit", "Cache", "x"));
    expect(cacheDirectory([], { platform: "win32", env: {}, home: "C:\\Users\\ana" })).toBe(
      "C:\\Users\\ana\\AppData\\Local\\s3kit\\Cache",
    );
  });
});

describe("sync metadata", () => {
  test("round trip, and malformed remote values are ignored rather than trusted", () => {
    const sha = "a".repeat(64);
    const written = syncMetadata({ mtimeMs: 1_717_243_200_123, partSizeBytes: 8 * 1024 * 1024, sha256: sha });
    expect(written).toEqual({ [META_MTIME]: "1717243200.123", [META_PART_SIZE]: "8388608", [META_SHA256]: sha });
    expect(parseSyncMetadata(written)).toEqual({ mtimeMs: 1_717_243_200_123, partSizeBytes: 8388608, sha256: sha });
    expect(
      parseSyncMetadata({ [META_MTIME]: "-1e99", [META_PART_SIZE]: "0", [META_SHA256]: "../../etc/passwd" }),
    ).toEqual({});
    expect(parseSyncMetadata({ [META_PART_SIZE]: "99999999999" })).toEqual({});
  });
});

describe("partial download files", () => {
  test("a partial path sits beside its target and is recognised; user files that look alike are not", () => {
    const partial = partialPathFor("/restore/2024/IMG 1.CR2");
    expect(posix.dirname(partial)).toBe("/restore/2024");
    expect(isPartialDownload(posix.basename(partial))).toBe(true);
    expect(isPartialDownload("IMG 1.CR2")).toBe(false);
    expect(isPartialDownload(".IMG.s3kit-partial-notrandom")).toBe(false);
  });

  test("removeLeftoverPartials removes a target's leftovers only: not other targets', not look-alikes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "s3kit-partials-"));
    const target = join(dir, "a.bin");
    const names = [
      "a.bin",
      posix.basename(partialPathFor("/x/a.bin")),
      posix.basename(partialPathFor("/x/a.bin")),
      posix.basename(partialPathFor("/x/b.bin")),
      ".a.bin.s3kit-partial-notrandom",
      "a.bin.s3kit-partial-0123456789ab",
    ];
    for (const name of names) await writeFile(join(dir, name), "x");
    expect(await removeLeftoverPartials(target)).toBe(2);
    expect((await readdir(dir)).sort()).toEqual([names[0], names[3], names[4], names[5]].sort());
    expect(await removeLeftoverPartials(join(dir, "missing-folder", "c.bin"))).toBe(0);
    await rm(dir, { recursive: true });
  });
});
