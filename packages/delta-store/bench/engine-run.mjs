// One engine over one corpus, in its own process so that peak RSS belongs to this engine alone.
// Usage: node engine-run.mjs <engine> <corpusDir> <s3Endpoint> <region> <accessKeyId> <secretAccessKey> [xdelta3Path]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createS3Client, openObjectStore } from "@toolkit/shared";
import { createTestBucket } from "@toolkit/shared/testing";
import { createDeltaStore } from "../dist/index.js";

const [engine, corpusDir, endpoint, region, accessKeyId, secretAccessKey, xdelta3Path] = process.argv.slice(2);
const credentials = { accessKeyId, secretAccessKey };
/** CPU of this process plus the children it waited for (the xdelta3 binary), in ms, from /proc. */
function cpuMs() {
  const self = process.cpuUsage();
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  const ticks = Number(fields[13]) + Number(fields[14]); // cutime + cstime (fields 16, 17)
  return { self: (self.user + self.system) / 1000, selfSystem: self.system / 1000, children: ticks * 10 };
}
const files = readdirSync(corpusDir)
  .filter((n) => !n.startsWith("."))
  .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
const { bucket, client } = await createTestBucket(
  { endpoint, region, credentials },
  `bench-${engine.replace(/[^a-z0-9]/g, "")}`,
);
const cacheDir = await mkdtemp(join(tmpdir(), "s3kit-delta-bench-"));
// Count requests with SDK middleware (every HTTP request, retries included).
const requests = [];
const counted = createS3Client({ endpoint, region, credentials, socketTimeoutMs: 30_000 });
counted.middlewareStack.add(
  (next, context) => (args) => {
    requests.push(context.commandName);
    return next(args);
  },
  { step: "finalizeRequest", name: "countRequests" },
);
const raw = openObjectStore(`s3://${bucket}/releases/`, { client: counted });
const store = createDeltaStore({
  location: `s3://${bucket}/releases/`,
  store: raw,
  engine,
  maxRatio: 0.5,
  cache: { dir: cacheDir },
  ...(xdelta3Path ? { xdelta3Path } : {}),
});
let originalBytes = 0;
const results = [];
const cpu0 = cpuMs();
const put0 = performance.now();
for (const name of files) {
  const size = statSync(join(corpusDir, name)).size;
  originalBytes += size;
  const r = await store.put(join(corpusDir, name), `app/${name}`);
  process.stderr.write(`${engine} put ${name} ${r.stored} ${r.storedBytes}\n`);
  results.push({ name, size, stored: r.stored, storedBytes: r.storedBytes, engine: r.engine, ratio: r.ratio });
}
const putMs = performance.now() - put0;
const cpu1 = cpuMs();
const putRequests = requests.length;
const putRequestsByCommand = {};
for (const c of requests) putRequestsByCommand[c] = (putRequestsByCommand[c] ?? 0) + 1;
// Get from a cold cache, as a fresh machine would.
await rm(cacheDir, { recursive: true, force: true });
const outDir = await mkdtemp(join(tmpdir(), "s3kit-delta-bench-out-"));
const get0 = performance.now();
// S3KIT_BENCH_PUT_ONLY=1 (profile.mjs): no gets, so that a CPU profile shows the puts alone.
for (const name of process.env.S3KIT_BENCH_PUT_ONLY ? [] : files) {
  await store.get(`app/${name}`, join(outDir, name));
  process.stderr.write(`${engine} get ${name}\n`);
}
const getMs = performance.now() - get0;
const cpu2 = cpuMs();
const getRequests = requests.length - putRequests;
const stats = await store.stats("app/");
await store.close();
await raw.close();
counted.destroy();
client.destroy();
await rm(outDir, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({
    engine,
    files: files.length,
    originalBytes,
    storedBytes: stats.storedBytes,
    storedRatio: stats.storedBytes / originalBytes,
    putMBps: originalBytes / 1e6 / (putMs / 1000),
    getMBps: originalBytes / 1e6 / (getMs / 1000),
    putCpuMs: {
      self: cpu1.self - cpu0.self,
      selfSystem: cpu1.selfSystem - cpu0.selfSystem,
      children: cpu1.children - cpu0.children,
    },
    getCpuMs: { self: cpu2.self - cpu1.self, children: cpu2.children - cpu1.children },
    putRequests,
    putRequestsByCommand,
    getRequests,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    perFile: results,
  }),
);
