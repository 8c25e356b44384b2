// photo-sync benchmark: s3kit photo-sync against rclone, `aws s3 sync` and `s3cmd sync` (where installed),
// same data, same run, same local S3 server (moto) behind a counting proxy. Every tool runs as a child process
// under GNU time (wall, user+sys CPU, peak RSS). Writes bench/results/photo-sync.{md,json} at the repo root.
// Backup (issue 15): (a) first upload of 2,000 × 64 KiB, (b) the no-change re-run, (c) first upload of 24 × 24 MiB
// (camera raw size); peers rclone (`--transfers 16 --fast-list`), `aws s3 sync` and `s3cmd sync` (a generated config
// file for the proxy; the credentials are moto's and are never printed). Results: bench/results/<BENCH_RESULT_NAME ??
// "photo-sync">.{md,json}; BENCH_CPU_PROF=<dir> makes the s3kit backup runs write V8 CPU profiles there (summarise
// with packages/shared/bench/top-costs.mjs; the profiler inflates CPU, so never compare a profiled run's CPU).
// Restore (issue 12), against `aws s3 sync` (download) and `rclone copy` into an empty folder: (d) 2,000 × 64 KiB,
// (e) 24 × 24 MiB; written to bench/results/photo-sync-restore.{md,json}.
// Scale down with PHOTO_SYNC_BENCH_FILES / PHOTO_SYNC_BENCH_BIG / PHOTO_SYNC_BENCH_RESTORE_FILES /
// PHOTO_SYNC_BENCH_RESTORE_BIG (counts) on a slow machine; PHOTO_SYNC_BENCH_PARTS=backup or =restore runs one part,
// PHOTO_SYNC_BENCH_TOOLS=s3kit,aws only the tools whose names start so. PHOTO_SYNC_BENCH_BIG=0 leaves (c) out.
// PHOTO_SYNC_BENCH_B_RUNS=N runs (b) N times per tool and records the median (client CPU, wall, RSS; every sample in
// the JSON). PHOTO_SYNC_BENCH_BASELINE=<path of a bin/run.js> adds "s3kit photo-sync (baseline)": another s3kit
// build (e.g. an installed copy made before a change) in the same run, on the same data, never counted as a peer.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  startFaultProxy,
  startS3Server,
  testClientOptions,
  warmUpS3Server,
} from "@toolkit/shared/testing";
import {
  awsEnv,
  treeCli as cli,
  installedCli as installCli,
  rcloneEnv as rcloneConfigEnv,
  root,
  timed as timedRun,
  which,
  writeS3cmdConfig,
} from "../../../bench/kit.mjs";

const SMALL_COUNT = Number(process.env.PHOTO_SYNC_BENCH_FILES ?? 2000);
const SMALL_BYTES = 64 * 1024;
const BIG_COUNT = Number(process.env.PHOTO_SYNC_BENCH_BIG ?? 24);
const BIG_MIB = Number(process.env.PHOTO_SYNC_BENCH_BIG_MIB ?? 24);
const BIG_BYTES = BIG_MIB * 1024 * 1024;
const RESULT_NAME = process.env.BENCH_RESULT_NAME ?? "photo-sync";
const PROF_DIR = process.env.BENCH_CPU_PROF;
const RESTORE_SMALL_COUNT = Number(process.env.PHOTO_SYNC_BENCH_RESTORE_FILES ?? 2000);
const RESTORE_BIG_COUNT = Number(process.env.PHOTO_SYNC_BENCH_RESTORE_BIG ?? 24);
const RESTORE_BIG_BYTES = 24 * 1024 * 1024;
const PARTS = (process.env.PHOTO_SYNC_BENCH_PARTS ?? "backup,restore").split(",");
const B_RUNS = Math.max(1, Number(process.env.PHOTO_SYNC_BENCH_B_RUNS ?? 1));
const BASELINE = process.env.PHOTO_SYNC_BENCH_BASELINE;
/** s3kit's own rows (this build and a baseline build) are never peers. */
const isS3kit = (tool) => tool.startsWith("s3kit photo-sync");

const server = await startS3Server();
// PHOTO_SYNC_BENCH_KEEPALIVE=1: the proxy keeps every client's connections open as S3 does (moto closes each one;
// see `keepClientConnections`). Off by default, as in every earlier result.
const proxy = await startFaultProxy({
  target: server.endpoint,
  keepClientConnections: process.env.PHOTO_SYNC_BENCH_KEEPALIVE === "1",
});
const work = mkdtempSync(join(tmpdir(), "photo-sync-bench-"));
const smallDir = join(work, "small");
const bigDir = join(work, "big");
/** `count` files of `bytes` random bytes in folders of 100, as a camera's shoots. */
function makeFiles(dir, count, bytes, name, ext) {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `2024/Shoot ${String(Math.floor(i / 100)).padStart(3, "0")}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `${name}_${String(i).padStart(5, "0")}.${ext}`), randomBytes(bytes));
  }
}
if (PARTS.includes("backup")) {
  makeFiles(smallDir, SMALL_COUNT, SMALL_BYTES, "IMG", "jpg");
  mkdirSync(bigDir, { recursive: true });
  for (let i = 0; i < BIG_COUNT; i++)
    writeFileSync(join(bigDir, `RAW_${String(i).padStart(4, "0")}.dng`), randomBytes(BIG_BYTES));
}

/**
 * The backup runs use s3kit as a release installs it: the CLI with the oclif manifest `npm pack` generates, so a
 * run imports only its own command. This tree has no manifest (it would go stale between builds), and oclif then
 * imports every command at start (kv, table, delta, object: SQLite, the DynamoDB client, …), about 0.4 s of CPU per
 * run that no installed s3kit pays. PHOTO_SYNC_BENCH_CLI=tree runs apps/cli/bin/run.js as it is.
 */
function installedCli() {
  if (process.env.PHOTO_SYNC_BENCH_CLI === "tree") return { path: cli, layout: "the source tree, no oclif manifest" };
  // PHOTO_SYNC_BENCH_S3KIT=<path of a bin/run.js>: that s3kit instead of this tree's (e.g. a copy installed before a
  // change, for a "before" run with the same script and peers).
  if (process.env.PHOTO_SYNC_BENCH_S3KIT)
    return { path: process.env.PHOTO_SYNC_BENCH_S3KIT, layout: `from ${process.env.PHOTO_SYNC_BENCH_S3KIT}` };
  return { path: installCli(work), layout: "as installed (with the oclif manifest a release ships)" };
}
const backupCli = PARTS.includes("backup") ? installedCli() : { path: cli, layout: "" };
// The restore runs use the same layout (PHOTO_SYNC_BENCH_CLI=tree: the source tree, as the first restore results).
const restoreCli = !PARTS.includes("restore")
  ? { path: cli, layout: "" }
  : PARTS.includes("backup")
    ? backupCli
    : installedCli();

const env = awsEnv(server, {
  XDG_CACHE_HOME: join(work, "cache"),
});
// rclone 1.60 refuses AWS_CA_BUNDLE with its own HTTP transport; the endpoint here is plain http anyway.
const rcloneEnv = { ...env };
delete rcloneEnv.AWS_CA_BUNDLE;
const s3cmdConfig = join(work, "s3cmd.cfg");
writeS3cmdConfig(s3cmdConfig, { endpoint: proxy.endpoint, server });

// PHOTO_SYNC_BENCH_CPU_PROF=<dir>: each s3kit restore writes a V8 CPU profile there (`--cpu-prof` inflates CPU
// time: compare profiled runs only with profiled runs). PHOTO_SYNC_BENCH_RESTORE_NAME: file name of the restore
// results (e.g. photo-sync-restore-before), default photo-sync-restore.
const restoreProfDir = process.env.PHOTO_SYNC_BENCH_CPU_PROF;
const restoreProfArgs = (name) =>
  restoreProfDir ? ["--cpu-prof", "--cpu-prof-dir", restoreProfDir, "--cpu-prof-name", `${name}.cpuprofile`] : [];
const RESTORE_NAME = process.env.PHOTO_SYNC_BENCH_RESTORE_NAME ?? "photo-sync-restore";
// PHOTO_SYNC_BENCH_NODE_FLAGS="--initial-old-space-size=256": Node flags for the s3kit restore runs (a V8 setting
// the CLI could pass; NODE_OPTIONS refuses that one).
const restoreNodeFlags = (process.env.PHOTO_SYNC_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);

/** An s3kit backup of `dir` to `url` by the CLI at `cliPath` (this tree's or a baseline build), through the proxy. */
const s3kitBackup = (cliPath, dir, url, nodeArgs = []) => [
  process.execPath,
  ...nodeArgs,
  cliPath,
  "photo-sync",
  dir,
  url,
  "--endpoint-url",
  proxy.endpoint,
  "--quiet",
];

/** Each tool: how to sync a local folder to s3://bucket/prefix. */
const tools = [
  {
    name: "s3kit photo-sync",
    version: `s3kit ${JSON.parse(readFileSync(join(root, "apps/cli/package.json"), "utf8")).version}`,
    cmd: (dir, bucket, prefix, profName) =>
      s3kitBackup(
        backupCli.path,
        dir,
        `s3://${bucket}/${prefix}`,
        PROF_DIR && profName
          ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, "--cpu-prof-name", `${RESULT_NAME}-${profName}.cpuprofile`]
          : [],
      ),
    restore: (bucket, prefix, dir) => [
      process.execPath,
      ...restoreNodeFlags,
      ...restoreProfArgs(`restore-${prefix}`),
      restoreCli.path,
      "photo-sync",
      "restore",
      `s3://${bucket}/${prefix}`,
      dir,
      "--endpoint-url",
      proxy.endpoint,
      "--quiet",
    ],
  },
  which("rclone") && {
    name: "rclone copy",
    version: spawnSync("rclone", ["version"], { encoding: "utf8" }).stdout.split("\n")[0],
    cmd: (dir, bucket, prefix) => [
      "rclone",
      "copy",
      "--transfers",
      "16",
      "--fast-list",
      dir,
      `bench:${bucket}/${prefix}`,
    ],
    restore: (bucket, prefix, dir) => ["rclone", "copy", `bench:${bucket}/${prefix}`, dir],
    env: {
      ...rcloneEnv,
      ...rcloneConfigEnv({ endpoint: proxy.endpoint, server, configPath: join(work, "rclone.conf") }),
    },
  },
  which("aws") && {
    name: "aws s3 sync",
    version: spawnSync("aws", ["--version"], { encoding: "utf8" }).stdout.trim().split(" ")[0],
    cmd: (dir, bucket, prefix) => [
      "aws",
      "s3",
      "sync",
      dir,
      `s3://${bucket}/${prefix}`,
      "--endpoint-url",
      proxy.endpoint,
      "--only-show-errors",
    ],
    restore: (bucket, prefix, dir) => [
      "aws",
      "s3",
      "sync",
      `s3://${bucket}/${prefix}`,
      dir,
      "--endpoint-url",
      proxy.endpoint,
      "--only-show-errors",
    ],
  },
  which("s3cmd") && {
    name: "s3cmd sync",
    version: `s3cmd ${spawnSync("s3cmd", ["--version"], { encoding: "utf8" }).stdout.trim().split(" ").pop()}`,
    cmd: (dir, bucket, prefix) => [
      "s3cmd",
      "-c",
      s3cmdConfig,
      "--no-progress",
      "-q",
      "sync",
      `${dir}/`,
      `s3://${bucket}/${prefix}/`,
    ],
  },
  BASELINE && {
    name: "s3kit photo-sync (baseline)",
    version: `s3kit baseline ${BASELINE}`,
    cmd: (dir, bucket, prefix) => s3kitBackup(BASELINE, dir, `s3://${bucket}/${prefix}`),
  },
].filter(
  (tool) =>
    tool &&
    (!process.env.PHOTO_SYNC_BENCH_TOOLS ||
      process.env.PHOTO_SYNC_BENCH_TOOLS.split(",").some((t) => tool.name.startsWith(t))),
);

function timed(argv, extraEnv = {}) {
  return timedRun(argv, {
    env: extraEnv.RCLONE_CONFIG ? extraEnv : { ...env, ...extraEnv },
    statsFile: join(work, "time.txt"),
  });
}

async function emptyBucket(url) {
  const store = openObjectStore(url, testClientOptions(server));
  const keys = [];
  for await (const e of store.list()) if (e.kind === "object") keys.push(e.key);
  await store.deleteMany(keys);
  await store.close();
}

const rows = [];
const started = performance.now();
/** Run one tool's command under GNU time and record its requests through the proxy. */
async function measure(tool, scenario, argv, into) {
  const before = proxy.requests.length;
  const r = await timed(argv, tool.env);
  const made = proxy.requests.slice(before);
  const row = {
    tool: tool.name,
    scenario,
    exitCode: r.code,
    wallMs: r.wallMs,
    cpuMs: r.cpuMs,
    peakRssMiB: r.rssMiB,
    requests: made.length,
    byMethod: Object.fromEntries(
      [...new Set(made.map((q) => q.method))].map((m) => [m, made.filter((q) => q.method === m).length]),
    ),
  };
  if (r.code !== 0) row.error = r.stderr.split("\n").pop();
  into.push(row);
  process.stderr.write(`${tool.name} ${scenario}: ${JSON.stringify(row)}\n`);
  return row;
}

// Warm moto up before the first measured tool (see warmUpS3Server). PHOTO_SYNC_BENCH_WARMUP=0 skips it.
if (PARTS.includes("backup") && process.env.PHOTO_SYNC_BENCH_WARMUP !== "0") await warmUpS3Server(server);

const backupTools = PARTS.includes("backup") ? tools : [];
const bucketOf = new Map();
const scenarioB = "(b) no-change re-run";
for (const tool of backupTools) {
  const { bucket, url } = await createTestBucket(server, "bench-ps");
  bucketOf.set(tool, { bucket, url });
  await measure(tool, `(a) first upload ${SMALL_COUNT} × 64 KiB`, tool.cmd(smallDir, bucket, "small", "a"), rows);
}
// (b) in rounds, every tool once per round: the load other work puts on the shared machine drifts, and this way it
// falls on every tool alike. With B_RUNS > 1 the row is the median of each figure, every sample kept.
const samplesOf = new Map(backupTools.map((tool) => [tool, []]));
for (let i = 0; i < B_RUNS; i++) {
  for (const tool of backupTools) {
    const profName = B_RUNS === 1 ? "b" : `b${i}`;
    await measure(
      tool,
      scenarioB,
      tool.cmd(smallDir, bucketOf.get(tool).bucket, "small", profName),
      samplesOf.get(tool),
    );
  }
}
for (const tool of backupTools) {
  const samples = samplesOf.get(tool);
  const median = (key) => samples.map((r) => r[key]).sort((x, y) => x - y)[Math.floor(samples.length / 2)];
  rows.push(
    B_RUNS === 1
      ? samples[0]
      : {
          ...samples[0],
          wallMs: median("wallMs"),
          cpuMs: median("cpuMs"),
          peakRssMiB: median("peakRssMiB"),
          exitCode: samples.find((r) => r.exitCode !== 0)?.exitCode ?? 0,
          samples: samples.map(({ wallMs, cpuMs, peakRssMiB }) => ({ wallMs, cpuMs, peakRssMiB })),
        },
  );
}
for (const tool of backupTools) {
  const { bucket, url } = bucketOf.get(tool);
  if (BIG_COUNT > 0)
    await measure(tool, `(c) first upload ${BIG_COUNT} × ${BIG_MIB} MiB`, tool.cmd(bigDir, bucket, "big", "c"), rows);
  await emptyBucket(url); // moto keeps objects in memory
}
const restoreRows = [];
if (PARTS.includes("restore")) {
  // One backup made by s3kit (so objects carry its metadata: mtime, s3kit-sha256, s3kit-part-size), then each
  // tool downloads it into an empty folder, in the same run against the same server.
  const restoreSmall = join(work, "restore-small");
  const restoreBig = join(work, "restore-big");
  makeFiles(restoreSmall, RESTORE_SMALL_COUNT, SMALL_BYTES, "IMG", "jpg");
  makeFiles(restoreBig, RESTORE_BIG_COUNT, RESTORE_BIG_BYTES, "PANO", "tif");
  const { bucket } = await createTestBucket(server, "bench-restore");
  for (const [dir, prefix] of [
    [restoreSmall, "small"],
    [restoreBig, "big"],
  ]) {
    const s3kit = tools.find((t) => t.name === "s3kit photo-sync");
    const seeded = await timed(s3kit.cmd(dir, bucket, prefix));
    if (seeded.code !== 0) throw new Error(`seeding the restore bucket failed: ${seeded.stderr}`);
  }
  for (const tool of tools.filter((t) => t.restore)) {
    for (const [scenario, prefix] of [
      [`(d) restore ${RESTORE_SMALL_COUNT} × 64 KiB`, "small"],
      [`(e) restore ${RESTORE_BIG_COUNT} × 24 MiB`, "big"],
    ]) {
      const target = join(work, `restored-${restoreRows.length}`);
      await measure(tool, scenario, tool.restore(bucket, prefix, target), restoreRows);
      rmSync(target, { recursive: true, force: true });
    }
  }
}
await proxy.stop();
await server.stop();
rmSync(work, { recursive: true, force: true });

/** Ratios of s3kit against the fastest peer (wall) and the peer with the fewest requests, per scenario. */
const ratiosOf = (rows) =>
  [...new Set(rows.map((r) => r.scenario))].map((scenario) => {
    const me = rows.find((r) => r.tool === "s3kit photo-sync" && r.scenario === scenario);
    const peers = rows.filter((r) => !isS3kit(r.tool) && r.scenario === scenario && r.exitCode === 0);
    const fastest = peers.reduce((a, b) => (a && a.wallMs <= b.wallMs ? a : b), undefined);
    const fewest = peers.reduce((a, b) => (a && a.requests <= b.requests ? a : b), undefined);
    return {
      scenario,
      fastestPeer: fastest?.tool ?? null,
      wallSpeedup: fastest && me ? +(fastest.wallMs / me.wallMs).toFixed(2) : null,
      fewestRequestsPeer: fewest?.tool ?? null,
      requestRatio: fewest && me ? +(me.requests / Math.max(1, fewest.requests)).toFixed(3) : null,
      cpuRatioVsFastest: fastest?.cpuMs && me?.cpuMs ? +(me.cpuMs / fastest.cpuMs).toFixed(2) : null,
    };
  });
const ratios = ratiosOf(rows);

const fmt = (v) => (v === null || v === undefined ? "–" : String(v));
const tableOf = (rows, ratios) => [
  "| tool | scenario | wall ms | client CPU ms | peak RSS MiB | requests | by method | exit |",
  "|---|---|---:|---:|---:|---:|---|---:|",
  ...rows.map(
    (r) =>
      `| ${r.tool} | ${r.scenario} | ${r.wallMs} | ${fmt(r.cpuMs)} | ${fmt(r.peakRssMiB)} | ${r.requests} | ${Object.entries(
        r.byMethod,
      )
        .map(([m, n]) => `${m} ${n}`)
        .join(", ")} | ${r.exitCode}${r.error ? ` (${r.error})` : ""} |`,
  ),
  "",
  "Ratios (s3kit against the fastest peer by wall time; requests against the peer with the fewest):",
  "",
  "| scenario | fastest peer | wall speed-up (peer ÷ s3kit) | CPU (s3kit ÷ that peer) | fewest-requests peer | requests (s3kit ÷ that peer) |",
  "|---|---|---:|---:|---|---:|",
  ...ratios.map(
    (r) =>
      `| ${r.scenario} | ${fmt(r.fastestPeer)} | ${fmt(r.wallSpeedup)} | ${fmt(r.cpuRatioVsFastest)} | ${fmt(r.fewestRequestsPeer)} | ${fmt(r.requestRatio)} |`,
  ),
];
/** Issue 15's goals per backup scenario: s3kit against rclone, aws, the lowest-CPU and the fastest peer. */
const goalsOf = (rows) =>
  [...new Set(rows.map((r) => r.scenario))].map((scenario) => {
    const of = (prefix) => rows.find((r) => r.tool.startsWith(prefix) && r.scenario === scenario && r.exitCode === 0);
    const me = rows.find((r) => r.tool === "s3kit photo-sync" && r.scenario === scenario && r.exitCode === 0);
    const peers = rows.filter((r) => !isS3kit(r.tool) && r.scenario === scenario && r.exitCode === 0);
    const least = (key) => peers.reduce((a, b) => (a && a[key] <= b[key] ? a : b), undefined);
    const ratio = (key, peer) => (me?.[key] && peer?.[key] ? +(me[key] / peer[key]).toFixed(2) : null);
    return {
      scenario,
      cpuVsRclone: ratio("cpuMs", of("rclone")),
      cpuVsAws: ratio("cpuMs", of("aws")),
      cpuVsBestPeer: ratio("cpuMs", least("cpuMs")),
      bestCpuPeer: least("cpuMs")?.tool ?? null,
      wallVsFastestPeer: ratio("wallMs", least("wallMs")),
      fastestPeer: least("wallMs")?.tool ?? null,
      rssVsAws: ratio("peakRssMiB", of("aws")),
    };
  });
const goals = goalsOf(rows);
const md = [
  "# @toolkit/photo-sync — against rclone, aws s3 sync, s3cmd",
  "",
  `Same data, same run, same local S3 server (moto) behind a counting proxy, ${new Date().toISOString()}, Node ${process.version}: (a) first upload of ${SMALL_COUNT} files × 64 KiB in ${Math.ceil(SMALL_COUNT / 100)} folders, (b) the same command again with nothing changed, (c) first upload of ${BIG_COUNT} files × ${BIG_MIB} MiB (camera raw size). Every tool runs as a child process (s3kit ${backupCli.layout}: its defaults, 16 files at once; rclone: --transfers 16 --fast-list; aws cli: its default 10; s3cmd: 1), timed by GNU time: client CPU is user+sys of the tool's process, RSS its peak.${PROF_DIR ? " The s3kit runs ran under --cpu-prof, which inflates their CPU: do not compare it." : ""}${B_RUNS > 1 ? ` (b) ran ${B_RUNS} times per tool, in rounds (each tool once per round): its row is the median of each figure (the samples are in the JSON).` : ""}${BASELINE ? " `s3kit photo-sync (baseline)` is another s3kit build (PHOTO_SYNC_BENCH_BASELINE) on the same data, not a peer." : ""} Other work ran on this 2-core machine at the same time (moto and the clients share the cores): client CPU and requests are the primary figures, wall times are indicative. Versions: ${tools.map((t) => t.version).join(", ")}. Total bench time ${Math.round((performance.now() - started) / 1000)} s.`,
  "",
  ...tableOf(rows, ratios),
  "",
  "Issue 15 goals: (a) CPU ≤ rclone's, wall ≤ the fastest peer's; (b) CPU ≤ 0.7× the best peer's; (c) wall ≤ the fastest peer's, CPU ≤ 0.8× aws's, peak RSS ≤ 2× aws's.",
  "",
  "| scenario | CPU ÷ rclone | CPU ÷ aws | CPU ÷ best peer (which) | wall ÷ fastest peer (which) | peak RSS ÷ aws |",
  "|---|---:|---:|---|---|---:|",
  ...goals.map(
    (g) =>
      `| ${g.scenario} | ${fmt(g.cpuVsRclone)} | ${fmt(g.cpuVsAws)} | ${fmt(g.cpuVsBestPeer)} (${fmt(g.bestCpuPeer)}) | ${fmt(g.wallVsFastestPeer)} (${fmt(g.fastestPeer)}) | ${fmt(g.rssVsAws)} |`,
  ),
];
mkdirSync(join(root, "bench/results"), { recursive: true });
if (PARTS.includes("backup")) {
  writeFileSync(join(root, `bench/results/${RESULT_NAME}.md`), `${md.join("\n")}\n`);
  writeFileSync(
    join(root, `bench/results/${RESULT_NAME}.json`),
    `${JSON.stringify({ smallCount: SMALL_COUNT, smallBytes: SMALL_BYTES, bigCount: BIG_COUNT, bigBytes: BIG_BYTES, rows, ratios, goals }, null, 2)}\n`,
  );
  process.stdout.write(`${md.join("\n")}\n`);
}
if (PARTS.includes("restore")) {
  const restoreRatios = ratiosOf(restoreRows);
  const restoreMd = [
    "# @toolkit/photo-sync restore — against aws s3 sync (download) and rclone copy",
    "",
    `Same run, same local S3 server (moto) behind a counting proxy. One backup made by s3kit photo-sync (objects carry its mtime, s3kit-sha256 and s3kit-part-size metadata), then each tool downloads it into an empty folder: (d) ${RESTORE_SMALL_COUNT} files × 64 KiB, (e) ${RESTORE_BIG_COUNT} files × 24 MiB (multipart objects, 8 MiB parts). Defaults: s3kit (the CLI ${restoreCli.layout}) 16 files at once, verifying every file and setting its mtime; rclone 4 transfers; aws cli 10. Timed by GNU time (client CPU = user+sys, peak RSS). Versions: ${tools.map((t) => t.version).join(", ")}.${restoreProfDir ? " Every s3kit process ran under `--cpu-prof`, which inflates its CPU time." : ""}${restoreNodeFlags.length > 0 ? ` s3kit ran with \`node ${restoreNodeFlags.join(" ")}\`.` : ""} ${new Date().toISOString()}; the 2-core machine is shared with other work running at the same time (moto shares the cores too), so wall times are noisy: client CPU and requests are the primary figures.`,
    "",
    ...tableOf(restoreRows, restoreRatios),
  ];
  writeFileSync(join(root, `bench/results/${RESTORE_NAME}.md`), `${restoreMd.join("\n")}\n`);
  writeFileSync(
    join(root, `bench/results/${RESTORE_NAME}.json`),
    `${JSON.stringify({ smallCount: RESTORE_SMALL_COUNT, bigCount: RESTORE_BIG_COUNT, bigBytes: RESTORE_BIG_BYTES, rows: restoreRows, ratios: restoreRatios }, null, 2)}\n`,
  );
  process.stdout.write(`${restoreMd.join("\n")}\n`);
}
