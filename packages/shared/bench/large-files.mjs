// Issue 15 (c): first upload of 24 files × 24 MiB (camera raw size), s3kit photo-sync against rclone (16
// transfers, --fast-list), `aws s3 sync` and `s3cmd sync`, same data, same run, same moto behind a counting
// proxy; plus the sync engine's `uploadFile` alone with one PUT per file against 3 × 8 MiB parts, to choose the
// multipart threshold from numbers. Every run is its own process under GNU time (wall, user+sys CPU, peak RSS).
// Writes bench/results/<BENCH_RESULT_NAME ?? "large-files">.{md,json}.
//   BENCH_CPU_PROF=<dir>  s3kit processes write V8 CPU profiles there (summarise with top-costs.mjs)
//   LARGE_FILES_COUNT / LARGE_FILES_MIB  scale the data set (default 24 × 24)
//   LARGE_FILES_CLI=tree  run apps/cli/bin/run.js as it is (default: as installed, with the oclif manifest)
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openObjectStore } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const cli = join(root, "apps/cli/bin/run.js");
const COUNT = Number(process.env.LARGE_FILES_COUNT ?? 24);
const MIB = Number(process.env.LARGE_FILES_MIB ?? 24);
const resultName = process.env.BENCH_RESULT_NAME ?? "large-files";
const profDir = process.env.BENCH_CPU_PROF;
const which = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).stdout.trim() || undefined;

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
  if (process.env.LARGE_FILES_CLI === "tree") return cli;
  const dir = join(work, "s3kit-cli");
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(root, "apps/cli/bin/run.js"), join(dir, "bin/run.js"));
  copyFileSync(join(root, "apps/cli/package.json"), join(dir, "package.json"));
  symlinkSync(join(root, "apps/cli/dist"), join(dir, "dist"));
  symlinkSync(join(root, "apps/cli/node_modules"), join(dir, "node_modules"));
  const made = spawnSync(join(root, "apps/cli/node_modules/.bin/oclif"), ["manifest", dir], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`oclif manifest failed: ${made.stderr}`);
  return join(dir, "bin/run.js");
}
const photoSyncCli = installedCli();
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  AWS_REGION: server.region,
  AWS_DEFAULT_REGION: server.region,
  XDG_CACHE_HOME: join(work, "cache"),
};
delete env.AWS_CA_BUNDLE;
const proxyHost = proxy.endpoint.replace(/^http:\/\//, "");
const s3cmdConfig = join(work, "s3cmd.cfg");
writeFileSync(
  s3cmdConfig,
  `[default]\naccess_key = ${server.credentials.accessKeyId}\nsecret_key = ${server.credentials.secretAccessKey}\nhost_base = ${proxyHost}\nhost_bucket = ${proxyHost}\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n`,
);
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
      RCLONE_CONFIG_BENCH_TYPE: "s3",
      RCLONE_CONFIG_BENCH_PROVIDER: "Other",
      RCLONE_CONFIG_BENCH_ENDPOINT: proxy.endpoint,
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: server.credentials.accessKeyId,
      RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      RCLONE_CONFIG_BENCH_REGION: server.region,
      RCLONE_CONFIG: join(work, "rclone.conf"),
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
  const stats = join(work, "time.txt");
  return new Promise((resolve) => {
    const child = spawn("/usr/bin/time", ["-f", "%e %U %S %M", "-o", stats, ...argv], {
      env: { ...env, ...extraEnv },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
    child.on("close", (code) => {
      const [wall, user, sys, rss] = readFileSync(stats, "utf8").trim().split("\n").pop().split(" ").map(Number);
      resolve({
        code,
        wallMs: Math.round(wall * 1000),
        cpuMs: Math.round((user + sys) * 1000),
        rssMiB: Math.round(rss / 1024),
        stderr,
      });
    });
  });
}

const rows = [];
try {
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
  `Same data, same run, moto behind a counting proxy, ${new Date().toISOString()}, Node ${process.version}. Each tool is its own process under GNU time (client CPU = user+sys, peak RSS); s3kit photo-sync runs ${photoSyncCli === cli ? "from the source tree (no oclif manifest)" : "as installed (with the oclif manifest a release ships)"}. The uploadFile rows run the sync engine's upload of one file (what photo-sync does per file) over all files, 16 at once, without planning or state, once with the 16 MiB threshold (3 × 8 MiB parts) and once with one PUT per file.${profDir ? " s3kit processes ran with --cpu-prof, which adds a lot of CPU on a loaded machine (up to 2× here): compare their CPU only with other profiled runs." : ""} Other work ran on this 2-core machine at the same time: client CPU and requests are the primary figures, wall times are indicative.`,
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
