// Where put time goes (issue 15): runs engine-run.mjs under --cpu-prof for one engine over one corpus and prints
// the Node process's top self-time functions, grouped, next to the engine child's CPU and the requests.
// Usage: node bench/profile.mjs [engine=xdelta3] [corpus=prettier] ["xdelta3 flags", e.g. "-9" for the flags
// before issue 15, run through xdelta3-flags.sh]   (after `pnpm bench` fetched the corpora)
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startS3Server } from "@toolkit/shared/testing";

const here = dirname(fileURLToPath(import.meta.url));
const [engine = "xdelta3", corpusName = "prettier", flags] = process.argv.slice(2);
const profDir = mkdtempSync(join(tmpdir(), "s3kit-delta-prof-"));
const server = await startS3Server();
const result = await new Promise((resolveRun, reject) => {
  const child = spawn(
    process.execPath,
    [
      "--cpu-prof",
      `--cpu-prof-dir=${profDir}`,
      join(here, "engine-run.mjs"),
      engine,
      join(here, ".corpus", corpusName),
      server.endpoint,
      server.region,
      server.credentials.accessKeyId,
      server.credentials.secretAccessKey,
      ...(flags ? [join(here, "xdelta3-flags.sh")] : []),
    ],
    {
      stdio: ["ignore", "pipe", "ignore"],
      env: {
        ...process.env,
        S3KIT_BENCH_PUT_ONLY: "1",
        ...(flags ? { S3KIT_BENCH_XDELTA3_FLAGS: flags } : {}),
      },
    },
  );
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c) => {
    out += c;
  });
  child.on("error", reject);
  child.on("close", (code) => (code === 0 ? resolveRun(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
});
await server.stop();

const profile = JSON.parse(readFileSync(join(profDir, readdirSync(profDir)[0]), "utf8"));
rmSync(profDir, { recursive: true, force: true });
// Self time per node: samples × interval.
const dt = (profile.endTime - profile.startTime) / profile.samples.length / 1000;
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const byFn = new Map();
const groups = new Map();
const group = (fn, url) => {
  if (fn === "(idle)") return "idle (waiting: engine child, S3 server, disk)";
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)") return "(program): native work outside JS frames";
  if (/digest|update|Hash/i.test(fn) && /crypto|hash/i.test(url)) return "hashing (node:crypto)";
  if (/@smithy|@aws-sdk/.test(url)) return "AWS SDK (signing, middleware, XML)";
  if (/node:fs|node:internal\/fs|internal\/streams/.test(url) || /^(read|write|open|close)$/.test(fn))
    return "fs and streams";
  if (/child_process/.test(url)) return "spawn";
  if (/delta-store|shared\/dist/.test(url)) return "s3kit code";
  return "other";
};
for (const node of profile.nodes) {
  const n = hits.get(node.id);
  if (!n) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const fn = functionName || "(anonymous)";
  const key = `${fn} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "")}:${lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + n * dt);
  const g = group(fn, url);
  groups.set(g, (groups.get(g) ?? 0) + n * dt);
}
const total = profile.samples.length * dt;
const lines = [];
lines.push(
  `${engine}${flags ? ` (encode flags ${flags})` : ""} over ${corpusName}: ${result.files} files, ${(result.originalBytes / 1e6).toFixed(1)} MB, put ${result.putMBps.toFixed(1)} MB/s, put CPU self ${result.putCpuMs.self.toFixed(0)} ms (of which kernel ${result.putCpuMs.selfSystem.toFixed(0)} ms) + engine child ${result.putCpuMs.children} ms, requests ${JSON.stringify(result.putRequestsByCommand)}`,
);
lines.push(`Node profile (whole process: start-up + puts), ${total.toFixed(0)} ms sampled:`);
for (const [g, ms] of [...groups].sort((a, b) => b[1] - a[1]))
  lines.push(`  ${ms.toFixed(0).padStart(6)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${g}`);
lines.push("Top self-time functions:");
for (const [k, ms] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25))
  lines.push(`  ${ms.toFixed(0).padStart(6)} ms  ${k}`);
process.stdout.write(`${lines.join("\n")}\n`);
