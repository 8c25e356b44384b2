// pnpm --filter @toolkit/delta-store bench — see README "Benchmarks".
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { startS3Server } from "@toolkit/shared/testing";
import { encodeFlags } from "../dist/engines/xdelta3-native.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..", "..");
const resultsDir = join(repoRoot, "bench", "results");
const PACKAGE = "prettier";
const VERSIONS = ["3.9.5", "3.9.6", "3.9.7", "3.9.8", "3.9.9", "3.9.10"];

/** Successive npm releases, unpacked to .tar (the .tgz is whole-stream gzip, which no delta engine can see through). */
function fetchCorpus() {
  const dir = join(here, ".corpus", PACKAGE);
  mkdirSync(dir, { recursive: true });
  for (const v of VERSIONS) {
    const tar = join(dir, `${PACKAGE}-${v}.tar`);
    if (existsSync(tar)) continue;
    const tgzDir = join(here, ".corpus", "tgz");
    mkdirSync(tgzDir, { recursive: true });
    execFileSync("npm", ["pack", `${PACKAGE}@${v}`, "--silent", "--pack-destination", tgzDir], { stdio: "ignore" });
    writeFileSync(tar, gunzipSync(readFileSync(join(tgzDir, `${PACKAGE}-${v}.tgz`))));
  }
  return dir;
}

/** Small synthetic corpus (900 KB versions) where xdelta3-wasm applies. */
function smallCorpus() {
  const dir = join(here, ".corpus", "small");
  mkdirSync(dir, { recursive: true });
  const big = readFileSync(join(fetchCorpusDir, `${PACKAGE}-${VERSIONS[0]}.tar`));
  const base = big.subarray(0, 900_000);
  for (let i = 0; i < 6; i++) {
    const v = Buffer.from(base);
    for (let k = 0; k < i * 20; k++) v[(k * 7919 + i * 104729) % v.length] ^= 1;
    writeFileSync(join(dir, `small-1.0.${i}.bin`), v);
  }
  return dir;
}

function procChildCpuMs() {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Run a CLI peer over the same pairs (every version against the first), measured by /usr/bin/time. */
function peer(name, corpus, makeArgs) {
  const files = readdirSync(corpus).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const ref = join(corpus, files[0]);
  const out = join(tmpdir(), `s3kit-peer-${process.pid}`);
  let stored = statSync(ref).size;
  let original = 0;
  let deltaBytes = 0;
  let deltaFileBytes = 0;
  let cpuMs = 0;
  let wallMs = 0;
  let peakRssMiB = 0;
  original += stored;
  for (const f of files.slice(1)) {
    const target = join(corpus, f);
    original += statSync(target).size;
    const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", ...makeArgs(ref, target, out)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    const [e, u, s, m] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number);
    wallMs += e * 1000;
    cpuMs += (u + s) * 1000;
    peakRssMiB = Math.max(peakRssMiB, m / 1024);
    stored += statSync(out).size;
    deltaBytes += statSync(out).size;
    deltaFileBytes += statSync(target).size;
  }
  return {
    engine: name,
    files: files.length,
    originalBytes: original,
    storedBytes: stored,
    storedRatio: stored / original,
    deltaRatio: deltaBytes / deltaFileBytes,
    putMBps: original / 1e6 / (wallMs / 1000),
    putCpuMs: { self: 0, children: cpuMs },
    peakRssMiB,
  };
}

// Async spawn: a blocking spawnSync would stop this process from draining the moto server's log pipe,
// and moto then stalls mid-request.
// `flags` runs the xdelta3 engine through xdelta3-flags.sh, which encodes with those flags instead of the
// engine's: another setting through the same put path, in the same run.
function runEngine(engine, corpus, server, flags) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(here, "engine-run.mjs"),
        engine,
        corpus,
        server.endpoint,
        server.region,
        server.credentials.accessKeyId,
        server.credentials.secretAccessKey,
        ...(flags ? [join(here, "xdelta3-flags.sh")] : []),
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 300_000,
        env: { ...process.env, ...(flags ? { S3KIT_BENCH_XDELTA3_FLAGS: flags.join(" ") } : {}) },
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c) => {
      out += c;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) return reject(new Error(`engine ${engine} failed (exit ${code}, signal ${signal})`));
      resolveRun(JSON.parse(out));
    });
  });
}

const fetchCorpusDir = fetchCorpus();
const small = smallCorpus();
const server = await startS3Server();
const started = performance.now();
const sets = [];
/** DeltaGlider's command, the engine's flags before issue 15 (xdelta3's default -B 64 MiB and -W 8 MiB). */
const BEFORE = ["-9"];
for (const [label, corpus, engines] of [
  [`${PACKAGE} ${VERSIONS[0]}..${VERSIONS.at(-1)} (npm, unpacked .tar)`, fetchCorpusDir, ["xdelta3", "zstd"]],
  ["synthetic 900 KB binary, 6 versions", small, ["xdelta3", "xdelta3-wasm", "zstd"]],
]) {
  const files = readdirSync(corpus).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const refSize = statSync(join(corpus, files[0])).size;
  // The engine's flags minus "-e -f": `-6 -B <reference rounded up> -W 16 MiB`.
  const now = encodeFlags(refSize).slice(2);
  const nine = ["-9", ...now.slice(1)];
  const variants = [
    ...engines.map((e) => [e, e]),
    [`xdelta3 ${BEFORE.join(" ")} (before: DeltaGlider's flags)`, "xdelta3", BEFORE],
    [`xdelta3 ${nine.join(" ")}`, "xdelta3", nine],
  ];
  const rows = [];
  for (const [name, e, flags] of variants) {
    const r = await runEngine(e, corpus, server, flags);
    r.engine = name === e ? (e === "xdelta3" ? `xdelta3 (default: ${now.join(" ")})` : e) : name;
    const deltas = r.perFile.filter((f) => f.stored === "delta");
    r.deltaRatio = deltas.reduce((s, f) => s + f.storedBytes, 0) / deltas.reduce((s, f) => s + f.size, 0);
    rows.push(r);
  }
  rows.push(peer("xdelta3 -e -9 -s (CLI)", corpus, (ref, t, out) => ["xdelta3", "-e", "-f", "-9", "-s", ref, t, out]));
  rows.push(
    peer(`xdelta3 -e ${now.join(" ")} (CLI)`, corpus, (ref, t, out) => [
      "xdelta3",
      "-e",
      "-f",
      ...now,
      "-s",
      ref,
      t,
      out,
    ]),
  );
  rows.push(
    peer("zstd --patch-from (CLI, -3)", corpus, (ref, t, out) => [
      "zstd",
      "-q",
      "-f",
      `--patch-from=${ref}`,
      t,
      "-o",
      out,
    ]),
  );
  rows.push(
    peer("zstd -19 --patch-from (CLI)", corpus, (ref, t, out) => [
      "zstd",
      "-q",
      "-f",
      "-19",
      `--patch-from=${ref}`,
      t,
      "-o",
      out,
    ]),
  );
  sets.push({ label, rows });
}
await server.stop();
void procChildCpuMs;

const fmt = (n, d = 1) => (n === undefined ? "–" : n.toFixed(d));
let md = `# @toolkit/delta-store benchmark\n\nRun ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}, against a local moto S3 server (${server.source}). Total ${fmt((performance.now() - started) / 1000)} s.\n\n`;
md +=
  'Stored = reference + deltas (+ direct files) / original bytes (lower is better); "Δ pp" = savings minus the savings of `xdelta3 -e -9 -s` (DeltaGlider\'s command, the CLI row) in percentage points. CPU = client process (self) + the xdelta3 child processes it waited for (child); "MB per CPU s" = original MB / put CPU seconds, the figure least affected by other load. Requests counted by SDK middleware (every HTTP request). "delta/file" = mean delta size over the files stored as deltas (the reference excluded). Rows with flags in their name run the xdelta3 engine through `bench/xdelta3-flags.sh` (same put path, other encode flags). CLI peers run the same pairs (every version against the first) with no S3 upload and no zero-diff delta. Other work ran on this shared 2-core machine at the same time: compare rows of one run, not runs.\n\n';
for (const set of sets) {
  const xd = set.rows.find((r) => r.engine === "xdelta3 -e -9 -s (CLI)");
  const xdSavings = 1 - xd.storedRatio;
  md += `## ${set.label}\n\n${set.rows[0].files} files, ${fmt(set.rows[0].originalBytes / 1e6)} MB original.\n\n`;
  md +=
    "| engine | stored/original | savings | Δ pp | delta/file | vs xdelta3 CLI size | put MB/s | put MB per CPU s | get MB/s | put CPU ms self + child | get CPU ms | requests put/get | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const r of set.rows) {
    const putCpu = r.putCpuMs.self + r.putCpuMs.children;
    const dpp = (1 - r.storedRatio - xdSavings) * 100;
    md += `| ${r.engine} | ${fmt(r.storedRatio * 100, 3)}% | ${fmt((1 - r.storedRatio) * 100, 2)}% | ${dpp >= 0 ? "+" : ""}${fmt(dpp, 3)} | ${fmt(r.deltaRatio * 100, 3)}% | ${fmt(r.storedBytes / xd.storedBytes, 3)}× | ${fmt(r.putMBps)} | ${fmt(r.originalBytes / 1e6 / (putCpu / 1000))} | ${fmt(r.getMBps)} | ${fmt(r.putCpuMs.self, 0)} + ${fmt(r.putCpuMs.children, 0)} | ${r.getCpuMs ? fmt(r.getCpuMs.self + r.getCpuMs.children, 0) : "–"} | ${r.putRequests ?? "–"}/${r.getRequests ?? "–"} | ${fmt(r.peakRssMiB, 0)} |\n`;
  }
  md += "\n";
}
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, "delta-store.md"), md);
writeFileSync(join(resultsDir, "delta-store.json"), JSON.stringify({ date: new Date().toISOString(), sets }, null, 2));
process.stdout.write(md);
void mkdtemp;
void rm;
