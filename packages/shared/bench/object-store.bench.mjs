// Object-store benchmark: throughput and requests per operation on S3 (local moto server) and file://,
// beside the raw AWS SDK doing the same small PUTs/GETs. Writes bench/results/shared.{md,json}.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client, forEachConcurrent, openObjectStore } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const SMALL_COUNT = 300;
const SMALL_BYTES = 16 * 1024;
const BIG_BYTES = 64 * 1024 * 1024;
const CONCURRENCY = 16;

async function measure(fn) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

const server = await startS3Server();
const proxy = await startFaultProxy({ target: server.endpoint });
const { url, bucket } = await createTestBucket(server, "bench-shared");
const small = Array.from({ length: SMALL_COUNT }, (_, i) => [`small/${i}.bin`, randomBytes(SMALL_BYTES)]);
const big = randomBytes(BIG_BYTES);
const dir = mkdtempSync(join(tmpdir(), "s3kit-bench-"));
const rows = [];

async function runStore(name, store, counted) {
  const ops = {
    "put 300 × 16 KiB": () => forEachConcurrent(small, CONCURRENCY, ([k, b]) => store.put(k, b)),
    "head 300": () => forEachConcurrent(small, CONCURRENCY, ([k]) => store.head(k)),
    "get 300 × 16 KiB": () => forEachConcurrent(small, CONCURRENCY, ([k]) => store.getBytes(k)),
    "list 300": async () => {
      for await (const _ of store.list({ prefix: "small/" }));
    },
    "put 64 MiB (multipart)": () => store.put("big.bin", big),
    "get 64 MiB": () => store.getBytes("big.bin"),
    "deleteMany 300": () => store.deleteMany(small.map(([k]) => k)),
  };
  for (const [op, fn] of Object.entries(ops)) {
    const before = proxy.requests.length;
    const m = await measure(fn);
    const bytes = op.includes("64 MiB") ? BIG_BYTES : op.includes("16 KiB") ? SMALL_COUNT * SMALL_BYTES : 0;
    rows.push({
      backend: name,
      op,
      wallMs: Math.round(m.wallMs),
      cpuMs: Math.round(m.cpuMs),
      requests: counted ? proxy.requests.length - before : null,
      mibPerSec: bytes ? +(bytes / 1024 / 1024 / (m.wallMs / 1000)).toFixed(1) : null,
    });
  }
}

await runStore("s3 (moto)", openObjectStore(`${url}bench`, testClientOptions(server, proxy.endpoint)), true);
await runStore("file://", openObjectStore(pathToFileURL(dir).href), false);

// Peer: the raw SDK, same small objects, same concurrency, same server and proxy.
const raw = createS3Client({ ...testClientOptions(server, proxy.endpoint), concurrency: CONCURRENCY });
for (const [op, fn] of Object.entries({
  "put 300 × 16 KiB": () =>
    forEachConcurrent(small, CONCURRENCY, ([k, b]) =>
      raw.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${k}`, Body: b })),
    ),
  "get 300 × 16 KiB": () =>
    forEachConcurrent(small, CONCURRENCY, async ([k]) => {
      const out = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `raw/${k}` }));
      await out.Body.transformToByteArray();
    }),
})) {
  const before = proxy.requests.length;
  const m = await measure(fn);
  rows.push({
    backend: "raw SDK (peer)",
    op,
    wallMs: Math.round(m.wallMs),
    cpuMs: Math.round(m.cpuMs),
    requests: proxy.requests.length - before,
    mibPerSec: +((SMALL_COUNT * SMALL_BYTES) / 1024 / 1024 / (m.wallMs / 1000)).toFixed(1),
  });
}

const cpuOf = (backend, op) => rows.find((r) => r.backend === backend && r.op === op)?.cpuMs ?? Number.NaN;
const ratios = ["put 300 × 16 KiB", "get 300 × 16 KiB"].map((op) => ({
  op,
  cpuRatioStoreVsRawSdk: +(cpuOf("s3 (moto)", op) / cpuOf("raw SDK (peer)", op)).toFixed(2),
}));

const md = [
  "# @toolkit/shared — object store",
  "",
  `Same data, same run: ${SMALL_COUNT} objects of 16 KiB and one of 64 MiB, concurrency ${CONCURRENCY}; S3 is the local moto server behind a counting proxy. Client CPU is this process's user+system time.`,
  "",
  "| backend | operation | wall ms | client CPU ms | requests | MiB/s |",
  "|---|---|---:|---:|---:|---:|",
  ...rows.map(
    (r) => `| ${r.backend} | ${r.op} | ${r.wallMs} | ${r.cpuMs} | ${r.requests ?? "–"} | ${r.mibPerSec ?? "–"} |`,
  ),
  "",
  "CPU ratio, object store over raw SDK (1.00 = no overhead):",
  "",
  ...ratios.map((r) => `- ${r.op}: ${r.cpuRatioStoreVsRawSdk}`),
  "",
].join("\n");
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(join(root, "bench/results/shared.md"), md);
writeFileSync(join(root, "bench/results/shared.json"), JSON.stringify({ rows, ratios }, null, 2));
process.stdout.write(md);
raw.destroy();
await proxy.stop();
await server.stop();
rmSync(dir, { recursive: true, force: true });
