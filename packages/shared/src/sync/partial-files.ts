import { randomBytes } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

// A download is written to a partial file beside its target, then renamed over it (atomic on one file
// system). The name is hidden, says what it is, and ends in a random tag, so a scan can tell a leftover of
// an interrupted run (kill -9) from a user's file and the next run removes it.
const PARTIAL = /^\..+\.s3kit-partial-[0-9a-f]{12}$/;

/** True for the name (not path) of a partial download file. */
export function isPartialDownload(name: string): boolean {
  return PARTIAL.test(name);
}

/** A fresh partial-file path beside `target` (same folder, so the final rename is atomic). */
export function partialPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.s3kit-partial-${randomBytes(6).toString("hex")}`);
}

/**
 * Remove the partial files an interrupted download into `target` left beside it (kill -9 between the first byte
 * and the rename); returns how many. Only names {@link partialPathFor} gives for this target are touched.
 */
export async function removeLeftoverPartials(target: string): Promise<number> {
  const prefix = `.${basename(target)}.s3kit-partial-`;
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return 0; // no folder yet: nothing was left
  }
  const leftovers = names.filter((name) => name.startsWith(prefix) && PARTIAL.test(name));
  await Promise.all(leftovers.map((name) => rm(join(dirname(target), name), { force: true })));
  return leftovers.length;
}
