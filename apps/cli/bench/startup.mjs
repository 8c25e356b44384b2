// CLI start-up benchmark (issue 15 (b)): client CPU (user+sys, GNU time) of short s3kit runs, the median of
// STARTUP_RUNS (default 9) after one warm-up run, for two layouts of the same build, interleaved run by run:
//   - "dist + manifest": dist/ and node_modules as tsc and pnpm leave them, with an oclif manifest (how a release
//     shipped before the bundle);
//   - "bundle": what a release ships now, apps/cli/scripts/bundle.mjs's output (bench/kit.mjs `installedCli`).
// Commands: `--version`, `photo-sync --help`, and issue 15's scenario (b): a no-change `photo-sync` of
// STARTUP_FILES (default 2,000) small files onto the local S3 server (moto; two listing requests), beside
// `node -e 0`. Writes
// bench/results/<BENCH_RESULT_NAME ?? "cli-startup">.{md,json} at the repo root. Build first (`pnpm --filter s3kit...
// build`). The machine is shared: CPU is the primary figure, and other work may run at the same time.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestBucket, startS3Server } from "@toolkit/shared/testing";
import { installedCli, root } from "../../../bench/kit.mjs";

const RUNS = Number(process.env.STARTUP_RUNS ?? 9);
const FILES = Number(process.env.STARTUP_FILES ?? 2000);
const RESULT_NAME = process.env.BENCH_RESULT_NAME ?? "cli-startup";
const work = mkdtempSync(join(tmpdir(), "s3kit-startup-"));

/** The layout a release had before the bundle: dist/, node_modules and an oclif manifest at the root. */
function distWithManifest() {
  const dir = join(work, "dist-manifest");
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(root, "apps/cli/bin/run.js"), join(dir, "bin/run.js"));
  copyFileSync(join(root, "apps/cli/package.json"), join(dir, "package.json"));
  symlinkSync(join(root, "apps/cli/dist"), join(dir, "dist"));
  symlinkSync(join(root, "apps/cli/node_modules"), join(dir, "node_modules"));
  const made = spawnSync(join(root, "apps/cli/node_modules/.bin/oclif"), ["manifest", dir], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`oclif manifest failed: ${made.stderr}`);
  return join(dir, "bin/run.js");
}

const layouts = [
  { name: "dist + manifest", bin: distWithManifest() },
  { name: "bundle", bin: installedCli(work) },
];

const server = await startS3Server();
const { bucket } = await createTestBucket(server, "startup");
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  AWS_REGION: server.region,
};
const photos = join(work, "photos");
for (let i = 0; i < FILES; i++) {
  const dir = join(photos, `2024/Shoot ${String(Math.floor(i / 100)).padStart(3, "0")}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `IMG_${String(i).padStart(5, "0")}.jpg`), `photo ${i}\n`.repeat(100));
}

const commands = [
  { name: "s3kit --version", args: ["--version"] },
  { name: "s3kit photo-sync --help", args: ["photo-sync", "--help"] },
  {
    name: `(b) s3kit photo-sync, ${FILES} files, no change, S3`,
    args: ["photo-sync", photos, `s3://${bucket}/photos`, "--endpoint-url", server.endpoint, "-q"],
  },
];

const statsFile = join(work, "time.txt");
/** CPU ms (user+sys) and peak RSS MiB of one run, under GNU time. */
function measure(argv) {
  const r = spawnSync("/usr/bin/time", ["-f", "%U %S %M", "-o", statsFile, ...argv], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  const [user, sys, rssKiB] = spawnSync("tail", ["-n1", statsFile], { encoding: "utf8" })
    .stdout.trim()
    .split(" ")
    .map(Number);
  return { cpuMs: Math.round((user + sys) * 1000), rssMiB: Math.round(rssKiB / 1024) };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The first photo-sync run uploads; every later one has nothing to do.
const first = spawnSync(process.execPath, [layouts[1].bin, ...commands[2].args], { encoding: "utf8", env });
if (first.status !== 0) throw new Error(`the first upload failed: ${first.stderr}`);

const rows = [];
const baseline = [];
for (let i = 0; i <= RUNS; i++) {
  const b = measure([process.execPath, "-e", "0"]);
  if (i > 0) baseline.push(b.cpuMs);
}
for (const command of commands) {
  const samples = Object.fromEntries(layouts.map((l) => [l.name, { cpu: [], rss: [] }]));
  for (let i = 0; i <= RUNS; i++) {
    for (const layout of layouts) {
      const m = measure([process.execPath, layout.bin, ...command.args]);
      if (i === 0) continue; // warm-up: page cache, compile cache
      samples[layout.name].cpu.push(m.cpuMs);
      samples[layout.name].rss.push(m.rssMiB);
    }
  }
  for (const layout of layouts) {
    const s = samples[layout.name];
    rows.push({
      command: command.name,
      layout: layout.name,
      cpuMsMedian: median(s.cpu),
      cpuMs: s.cpu,
      rssMiBMedian: median(s.rss),
    });
  }
}

const load = spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim().split(" ").slice(0, 3).join(" ");
const md = [
  "# s3kit CLI start-up",
  "",
  `${new Date().toISOString()}, Node ${process.version}, S3: ${server.source === "process" ? "moto" : server.source}, ${RUNS} runs per command and layout after a warm-up, interleaved; client CPU = user+sys (GNU time), median. \`node -e 0\` on this machine: ${median(baseline)} ms. Load average at the end: ${load} (a shared 2-core machine: other work ran at the same time, so absolute figures move between runs; compare layouts within this run).`,
  "",
  "| command | layout | CPU median (ms) | peak RSS (MiB) | all runs (ms) |",
  "|---|---|---:|---:|---|",
  ...rows.map((r) => `| ${r.command} | ${r.layout} | ${r.cpuMsMedian} | ${r.rssMiBMedian} | ${r.cpuMs.join(", ")} |`),
  "",
];
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(join(root, `bench/results/${RESULT_NAME}.md`), `${md.join("\n")}\n`);
writeFileSync(
  join(root, `bench/results/${RESULT_NAME}.json`),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, baselineCpuMs: median(baseline), loadAverage: load, rows }, null, 2)}\n`,
);
process.stdout.write(`${md.join("\n")}\n`);
await server.stop();
rmSync(work, { recursive: true, force: true });
