import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

const here = dirname(fileURLToPath(import.meta.url));
const COUNT = Number(process.env.LARGE_FILES_COUNT ?? 24);
const MIB = Number(process.env.LARGE_FILES_MIB ?? 24);
const resultName = process.env.BENCH_RESULT_NAME ?? "large-files";
const profDir = process.env.BENCH_CPU_PROF;

const server = await startS3Server();
const proxy = await startFaultProxy({ target: server.endpoint });
const work = mkdtempSync(join(tmpdir(), "large-files-bench-"));
const data = join(work, "data");
mkdirSync(data);
for (let i = 0; i < COUNT; i++)
  writeFileSync(join(data, `RAW_${String(i).padStart(4, "0")}.dng`), randomBytes(MIB * 1024 * 1024));
/**
 * s3kit photo-sync as a release installs it: with the oclif manifest `npm pack` generates, so a run imports only its
 * own command (this tree has none, and oclif then imports every command at start: ~0.4 s of CPU, ~20 MiB).
 */
function installedCli() {
  return process.env.LARGE_FILES_CLI === "tree" ? cli : installCli(work);
}
const photoSyncCli = installedCli();
const env = awsEnv(server, {
  XDG_CACHE_HOME: join(work, "cache"),
});
delete env.AWS_CA_BUNDLE;
const s3cmdConfig = join(work, "s3cmd.cfg");
writeS3cmdConfig(s3cmdConfig, { endpoint: proxy.endpoint, server });
const prof = (name) =>
  profDir ? ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-name", `${resultName}-${name}.cpuprofile`] : [];
const putFiles = join(here, "put-files.mjs");
const MiB = 1024 * 1024;
const tools = [
  {
    name: "s3kit photo-sync",
    argv: (bucket) => [
      process.execPath,
      ...prof("photo-sync"),
      photoSyncCli,
      "photo-sync",
      data,
      `s3://${bucket}/c`,
      "--endpoint-url",
      proxy.endpoint,
      "--quiet",
    ],
  },
  {
    name: "uploadFile, 3 × 8 MiB parts",
    argv: (bucket) => [
      process.execPath,
      ...prof("parts"),
      putFiles,
      data,
      `s3://${bucket}/c/`,
      proxy.endpoint,
      String(16 * MiB),
    ],
  },
  {
    name: "uploadFile, one PUT",
    argv: (bucket) => [
      process.execPath,
      ...prof("one-put"),
      putFiles,
      data,
      `s3://${bucket}/c/`,
      proxy.endpoint,
      String(MIB * MiB + 1),
    ],
  },
  which("rclone") && {
    name: "rclone copy (16 transfers, --fast-list)",
    argv: (bucket) => ["rclone", "copy", "--transfers", "16", "--fast-list", data, `bench:${bucket}/c`],
    env: {
      ...rcloneConfigEnv({ endpoint: proxy.endpoint, server, configPath: join(work, "rclone.conf") }),
    },
  },
  which("aws") && {
    name: "aws s3 sync",
    argv: (bucket) => [
      "aws",
      "s3",
      "sync",
      data,
      `s3://${bucket}/c`,
      "--endpoint-url",
      proxy.endpoint,
      "--only-show-errors",
    ],
  },
  which("s3cmd") && {
    name: "s3cmd sync",
    argv: (bucket) => ["s3cmd", "-c", s3cmdConfig, "--no-progress", "-q", "sync", `${data}/`, `s3://${bucket}/c/`],
  },
].filter(
  (t) =>
    t && (!process.env.LARGE_FILES_TOOLS || process.env.LARGE_FILES_TOOLS.split(",").some((n) => t.name.startsWith(n))),
);

function timed(argv, extraEnv = {}) {
  return timedRun(argv, { env: { ...env, ...extraEnv }, statsFile: join(work, "time.txt") });
}

const rows = [];
try {
  // Warm moto up before the first measured tool (see warmUpS3Server). LARGE_FILES_WARMUP=0 skips it.
  if (process.env.LARGE_FILES_WARMUP !== "0") await warmUpS3Server(server);
  for (const tool of tools) {
    const { bucket, url } = await createTestBucket(server, "bench-large");
    const before = proxy.requests.length;
    const r = await timed(tool.argv(bucket), tool.env);
    const made = proxy.requests.slice(before);
    const row = {
      tool: tool.name,
      exitCode: r.code,
      wallMs: r.wallMs,
      cpuMs: r.cpuMs,
      peakRssMiB: r.rssMiB,
      requests: made.length,
      byMethod: Object.fromEntries(
        [...new Set(made.map((q) => q.method))].map((m) => [m, made.filter((q) => q.method === m).length]),
      ),
      ...(r.code !== 0 ? { error: r.stderr.trim().split("\n").pop() } : {}),
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
    // moto keeps objects in memory: empty the bucket before the next tool.
    const store = openObjectStore(url, testClientOptions(server));
    const keys = [];
    for await (const e of store.list()) if (e.kind === "object") keys.push(e.key);
    await store.deleteMany(keys);
    await store.close();
  }
} finally {
  await proxy.stop();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
const md = [
  `# Issue 15 (c): first upload of ${COUNT} × ${MIB} MiB`,
  "",
  `Same data, same run, moto behind a counting proxy, ${new Date().toISOString()}, Node ${process.version}. Each tool is its own process under GNU time (client CPU = user+sys, peak RSS); s3kit photo-sync runs ${photoSyncCli === cli ? "from the source tree (no oclif manifest)" : "as installed (with the oclif manifest a release ships)"}. The uploadFile rows run the sync engine's upload of one file (what photo-sync does per file) over all files, 16 at once, without planning or state, once with the 16 MiB threshold (3 × 8 MiB parts) and once with one PUT per file.${profDir ? " s3kit processes ran with --cpu-prof, which adds a lot of CPU on a loaded machine (up to 2× here): compare their CPU only with other profiled runs." : ""} Other work ran on this 2-core machine at the same time: client CPU and requests are the primary figures, wall times are indicative.${process.env.LARGE_FILES_WARMUP === "0" ? "" : " moto served one unmeasured 24 MiB multipart upload first (its first large upload costs it far more CPU than later ones)."}`,
  "",
  "| tool | wall ms | client CPU ms | peak RSS MiB | requests | by method | exit |",
  "|---|---:|---:|---:|---:|---|---:|",
  ...rows.map(
    (r) =>
      `| ${r.tool} | ${r.wallMs} | ${r.cpuMs} | ${r.peakRssMiB} | ${r.requests} | ${Object.entries(r.byMethod)
        .map(([m, n]) => `${m} ${n}`)
        .join(", ")} | ${r.exitCode}${r.error ? ` (${r.error})` : ""} |`,
  ),
  "",
];
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(join(root, `bench/results/${resultName}.md`), md.join("\n"));
writeFileSync(
  join(root, `bench/results/${resultName}.json`),
  `${JSON.stringify({ count: COUNT, mib: MIB, rows }, null, 2)}\n`,
);
process.stdout.write(`${md.join("\n")}\n`);
