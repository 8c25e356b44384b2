import { describe, expect, test } from "vitest";
import { createPathFilter } from "./filter.ts";

// photo-sync's Lightroom defaults, as a realistic pattern set.
const DEFAULT_EXCLUDES = [
  "*.lrdata/**",
  "*.lrcat-wal",
  "*.lrcat-shm",
  "*.lrcat-journal",
  "*.lock",
  ".DS_Store",
  "Thumbs.db",
];

describe("createPathFilter", () => {
  const filter = createPathFilter(DEFAULT_EXCLUDES, []);

  test("default excludes reach Lightroom preview folders at any depth, and the folder itself", () => {
    expect(filter.isDirectoryExcluded("Catalog Previews.lrdata")).toBe(true);
    expect(filter.isDirectoryExcluded("2024/Catalog Smart Previews.lrdata")).toBe(true);
    expect(filter.isExcluded("Catalog Previews.lrdata/A/B/x.lrprev")).toBe(true);
    expect(filter.isExcluded("sub/Catalog.lrcat-wal")).toBe(true);
    expect(filter.isExcluded("Catalog.lrcat.lock")).toBe(true);
    expect(filter.isExcluded("a/.DS_Store")).toBe(true);
    expect(filter.isExcluded("Thumbs.db")).toBe(true);
  });

  test("keeps photos, the catalog and names that only look similar", () => {
    for (const path of ["Catalog.lrcat", "2024/IMG_1.CR2", "lrdata/x.jpg", "my.lrdata.jpg", "x.lrcat-wal.bak"]) {
      expect(filter.accepts(path), path).toBe(true);
    }
    expect(filter.isDirectoryExcluded("2024")).toBe(false);
  });

  test("a pattern on a folder name prunes the folder; a leading / anchors at the root", () => {
    const f = createPathFilter(["*.lrdata", "/Exports/**", "*.tmp"]);
    expect(f.isDirectoryExcluded("a/b.lrdata")).toBe(true);
    expect(f.isExcluded("a/b.lrdata/c/d.jpg")).toBe(true);
    expect(f.isDirectoryExcluded("Exports")).toBe(true);
    expect(f.isExcluded("Exports/x.jpg")).toBe(true);
    expect(f.isExcluded("2024/Exports/x.jpg")).toBe(false);
    expect(f.isExcluded("deep/down/x.tmp")).toBe(true);
  });

  test("includes narrow what takes part; excludes still win", () => {
    const f = createPathFilter(["*.tmp"], ["*.jpg", "*.lrcat"]);
    expect(f.accepts("a/b.jpg")).toBe(true);
    expect(f.accepts("Catalog.lrcat")).toBe(true);
    expect(f.accepts("a/b.png")).toBe(false);
    expect(f.accepts("x.jpg.tmp")).toBe(false);
  });

  test("patterns and paths compare NFC-normalised", () => {
    const f = createPathFilter(["Cafe\u0301/**"]);
    expect(f.isExcluded("Café/x.jpg")).toBe(true);
  });
});
