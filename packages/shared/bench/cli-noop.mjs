// Issue 15 (b), the CLI's side: the no-change re-run of `s3kit photo-sync` over FILES × 64 KiB against moto, each
// given CLI entry point run ROUNDS times in turn (interleaved, so load on the shared machine hits them alike),
// median and min client CPU (user+sys) and peak RSS under GNU time. Also `--version` (start-up alone).
//   node packages/shared/bench/cli-noop.mjs <path/to/bin/run.js>...   (default: apps/cli/bin/run.js)
//   FILES (2000), ROUNDS (5); BENCH_CPU_PROF=<dir> profiles the first upload and the last round of each entry.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestBucket, startS3Server } from "@toolkit/shared/testing";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const entries = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [join(root, "apps/cli/bin/run.js")];
const FILES = Number(process.env.FILES ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const profDir = process.env.BENCH_CPU_PROF;

const server = await startS3Server();
const work = mkdtempSync(join(tmpdir(), "cli-noop-bench-"));
const data = join(work, "data");
for (let i = 0; i < FILES; i++) {
  const sub = join(data, `2024/Shoot ${String(Math.floor(i / 100)).padStart(3, "0")}`);
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, `IMG_${String(i).padStart(5, "0")}.jpg`), randomBytes(64 * 1024));
}
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  AWS_REGION: server.region,
  XDG_CACHE_HOME: join(work, "cache"),
};
const { bucket } = await createTestBucket(server, "bench-noop");
const stats = join(work, "time.txt");
function run(argv, prof) {
  const node = [process.execPath, ...(prof ? ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-name", prof] : [])];
  const r = spawnSync("/usr/bin/time", ["-f", "%U %S %M", "-o", stats, ...node, ...argv], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  const [user, sys, rss] = readFileSync(stats, "utf8").trim().split("\n").pop().split(" ").map(Number);
  return { cpuMs: Math.round((user + sys) * 1000), rssMiB: Math.round(rss / 1024) };
}
const sync = (entry) => [entry, "photo-sync", data, `s3://${bucket}/p`, "--endpoint-url", server.endpoint, "--quiet"];
try {
  // Every entry shares the state file (same folder, location and endpoint): seed it once (the first upload, (a)).
  const first = run(sync(entries[0]), profDir && "cli-first-upload.cpuprofile");
  console.log(`first upload of ${FILES} × 64 KiB by ${entries[0]}: ${first.cpuMs} ms CPU, ${first.rssMiB} MiB`);
  const results = entries.map(() => ({ noop: [], version: [] }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, entry] of entries.entries()) {
      const prof = profDir && round === ROUNDS - 1 ? `cli-noop-${i}` : undefined;
      results[i].noop.push(run(sync(entry), prof && `${prof}.cpuprofile`));
      results[i].version.push(run([entry, "--version"], prof && `${prof}-version.cpuprofile`));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`| entry | no-op re-run of ${FILES} files: CPU median / min, peak RSS | --version: CPU median / min |`);
  console.log("|---|---|---|");
  for (const [i, entry] of entries.entries()) {
    const { noop, version } = results[i];
    console.log(
      `| ${entry} | ${median(noop.map((r) => r.cpuMs))} / ${Math.min(...noop.map((r) => r.cpuMs))} ms, ${median(noop.map((r) => r.rssMiB))} MiB | ${median(version.map((r) => r.cpuMs))} / ${Math.min(...version.map((r) => r.cpuMs))} ms |`,
    );
  }
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
