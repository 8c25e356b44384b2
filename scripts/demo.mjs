#!/usr/bin/env node
// The README's main job: back up a small sample "Lightroom library" with `s3kit photo-sync` onto the embedded
// default store (a file:// folder), twice, with no AWS account. Run through `npm run demo` (it builds first).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(repo, "apps/cli/bin/run.js");
if (!existsSync(join(repo, "apps/cli/dist/commands/photo-sync.js"))) {
  console.error("error: the CLI is not built; run `npm run demo` (it builds first) or `pnpm build`.");
  process.exit(1);
}

const base = await mkdtemp(join(tmpdir(), "s3kit-demo-"));
const library = join(base, "Lightroom");
const backup = join(base, "backup");
const state = join(base, "state");

async function put(rel, body) {
  const path = join(library, ...rel.split("/"));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

// A few photo-like files, a catalog, Lightroom's caches (excluded by default) and a macOS-style NFD name.
await put("Lightroom Catalog.lrcat", randomBytes(256 * 1024));
await put("Lightroom Catalog.lrcat-wal", randomBytes(8 * 1024));
await put("Lightroom Catalog Previews.lrdata/0/01/preview-1.lrprev", randomBytes(32 * 1024));
await put("Lightroom Catalog Smart Previews.lrdata/A/smart-1.dng", randomBytes(32 * 1024));
await put("2024/2024-06-01 Summer trip/IMG_0001.CR3", randomBytes(512 * 1024));
await put("2024/2024-06-01 Summer trip/IMG_0001.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>\n");
await put("2024/2024-06-01 Summer trip/IMG_0002.jpg", randomBytes(300 * 1024));
await put("2024/Travel/Cafe\u0301 Mu\u0308nchen.jpg", randomBytes(200 * 1024)); // NFD, as macOS writes it
await put("2025/Family/Portrait (1).jpg", randomBytes(150 * 1024));
await put(".DS_Store", randomBytes(64));

const destination = pathToFileURL(backup).href;
function photoSync(...extra) {
  const args = [bin, "photo-sync", library, destination, "--state-file", join(state, "demo.ndjson"), ...extra];
  return spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

console.log(`sample library: ${library}`);
console.log(`$ s3kit photo-sync ${library} ${destination}\n`);
const first = photoSync();
process.stdout.write(first.stdout);
if (first.status !== 0) process.exit(first.status ?? 1);

console.log(`\n$ s3kit photo-sync ${library} ${destination} --json   # again: nothing changed`);
const second = photoSync("--json");
if (second.status !== 0) {
  process.stdout.write(second.stdout);
  process.exit(second.status ?? 1);
}
const summary = JSON.parse(second.stdout);
console.log(`uploaded ${summary.uploaded}, skipped ${summary.skipped}, excluded ${summary.excluded}`);
if (summary.uploaded !== 0) {
  console.error("error: the second run uploaded files; it should have uploaded nothing");
  process.exit(1);
}

console.log(`\nbackup: ${backup}`);
console.log(`  (a file:// object store: plain files you can browse, metadata in ${join(backup, ".s3kit")})`);
console.log(`try:  node apps/cli/bin/run.js ls ${destination} --recursive`);
console.log(`S3:   node apps/cli/bin/run.js photo-sync ${library} s3://your-bucket/Lightroom`);
