// Benchmark of @toolkit/kv-store against its peers on the same local S3 server, in the same run:
// - push of 10,000 changed 1 KiB values vs a one-object-per-key layout written with the raw SDK;
// - pull into an empty replica; pull after 10 changed keys in a 100,000-key database;
// - local get/set of hot keys vs raw better-sqlite3 prepared statements.
// Reports requests (counted at a pass-through proxy), wall time, client CPU time and ratios.
// Usage: pnpm --filter @toolkit/kv-store build && pnpm --filter @toolkit/kv-store bench
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";
import Database from "better-sqlite3";
import { openKv } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = resolve(here, "../../../bench/results");
const PUSH_KEYS = Number(process.env.KV_BENCH_PUSH_KEYS ?? 10_000);
const BIG_KEYS = Number(process.env.KV_BENCH_BIG_KEYS ?? 100_000);
const HOT_OPS = Number(process.env.KV_BENCH_HOT_OPS ?? 100_000);
const NAIVE_CONCURRENCY = 16;

const tmp = mkdtempSync(join(tmpdir(), "kv-bench-"));
const path = (name) => join(tmp, `${name}.db`);
const value1k = (i) => ({ i, text: "x".repeat(1000) });

async function measure(proxy, fn) {
  const requestsBefore = proxy ? proxy.requests.length : 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return {
    wallMs: Math.round(wallMs * 10) / 10,
    cpuMs: Math.round((used.user + used.system) / 100) / 10,
    requests: proxy ? proxy.requests.length - requestsBefore : 0,
    result,
  };
}

const server = await startS3Server();
const proxy = await startFaultProxy({ target: server.endpoint });
const remoteOptions = { ...testClientOptions(server, proxy.endpoint), concurrency: NAIVE_CONCURRENCY };
const rows = [];
const json = { server: server.source, pushKeys: PUSH_KEYS, bigKeys: BIG_KEYS, hotOps: HOT_OPS, results: {} };

try {
  // 1. Push of PUSH_KEYS changed 1 KiB values.
  const { url: pushUrl } = await createTestBucket(server, "kv-bench-push");
  const a = await openKv({ path: path("push-a"), remote: `${pushUrl}db`, remoteOptions });
  await a.setMany(Array.from({ length: PUSH_KEYS }, (_, i) => [`key${String(i).padStart(6, "0")}`, value1k(i)]));
  const kvPush = await measure(proxy, () => a.push());

  const { bucket: naiveBucket } = await createTestBucket(server, "kv-bench-naive");
  const client = createS3Client(remoteOptions);
  const naive = await measure(proxy, async () => {
    let next = 0;
    const body = (i) => Buffer.from(JSON.stringify(value1k(i)));
    await Promise.all(
      Array.from({ length: NAIVE_CONCURRENCY }, async () => {
        while (next < PUSH_KEYS) {
          const i = next++;
          await client.send(
            new PutObjectCommand({ Bucket: naiveBucket, Key: `db/key${String(i).padStart(6, "0")}`, Body: body(i) }),
          );
        }
      }),
    );
  });
  client.destroy();
  json.results.push = { kv: kvPush, naiveOneObjectPerKey: naive, speedup: naive.wallMs / kvPush.wallMs };
  rows.push(["push 10k × 1 KiB: kv-store", kvPush, ""]);
  rows.push([`push 10k × 1 KiB: raw SDK, one object per key (${NAIVE_CONCURRENCY} parallel)`, naive, ""]);
  rows.push(["→ kv-store speed-up (wall)", null, `${(naive.wallMs / kvPush.wallMs).toFixed(1)}×`]);

  // 2. Pull into an empty replica (index only; then all values, as entries() would).
  const b = await openKv({ path: path("push-b"), remote: `${pushUrl}db`, remoteOptions, pullOnOpen: false });
  const pullEmpty = await measure(proxy, () => b.pull());
  let count = 0;
  const readAll = await measure(proxy, async () => {
    for await (const _ of b.entries()) count++;
  });
  rows.push(["pull 10k keys into an empty replica (index)", pullEmpty, ""]);
  rows.push([`then read all ${count} values (coalesced ranged GETs)`, readAll, ""]);
  json.results.pullEmpty = pullEmpty;
  json.results.readAllValues = readAll;
  await a.close();
  await b.close();

  // 3. Pull after 10 changed keys in a BIG_KEYS database.
  const { url: bigUrl } = await createTestBucket(server, "kv-bench-big");
  const big = await openKv({ path: path("big-a"), remote: `${bigUrl}db`, remoteOptions });
  await big.setMany(Array.from({ length: BIG_KEYS }, (_, i) => [`k${i}`, i]));
  const bigPush = await measure(proxy, () => big.push());
  const replica = await openKv({ path: path("big-b"), remote: `${bigUrl}db`, remoteOptions, pullOnOpen: false });
  const bigPull = await measure(proxy, () => replica.pull());
  await big.setMany(Array.from({ length: 10 }, (_, i) => [`k${i * 997}`, -i]));
  const smallPush = await measure(proxy, () => big.push());
  const pull10 = await measure(proxy, () => replica.pull());
  const noop = await measure(proxy, () => replica.pull());
  rows.push([`push of a ${BIG_KEYS}-key database`, bigPush, ""]);
  rows.push([`pull of it into an empty replica (index)`, bigPull, ""]);
  rows.push([`push of 10 changed keys in it`, smallPush, ""]);
  rows.push([`pull of those 10 changes`, pull10, ""]);
  rows.push(["pull with nothing new", noop, ""]);
  json.results.big = { push: bigPush, pullEmpty: bigPull, push10: smallPush, pull10, pullNothing: noop };
  await big.close();
  await replica.close();

  // 4. Hot local get/set vs raw better-sqlite3 prepared statements (same pragmas, same JSON encoding).
  const hot = await openKv({ path: path("hot") });
  const HOT_KEYS = 100;
  await hot.setMany(Array.from({ length: HOT_KEYS }, (_, i) => [`hot${i}`, { i }]));
  const raw = new Database(path("raw"));
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = NORMAL");
  raw.exec("CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value BLOB)");
  const rawSet = raw.prepare(
    "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  const rawGet = raw.prepare("SELECT value FROM kv WHERE key = ?").pluck();
  for (let i = 0; i < HOT_KEYS; i++) rawSet.run(`hot${i}`, Buffer.from(JSON.stringify({ i })));
  const keys = Array.from({ length: HOT_KEYS }, (_, i) => `hot${i}`);
  // Interleave rounds of both sides so that a noisy neighbour on this shared machine hits both alike.
  const ROUNDS = 5;
  const per = Math.floor(HOT_OPS / ROUNDS);
  const total = () => ({ wallMs: 0, cpuMs: 0, requests: 0 });
  const kvSet = total();
  const rawSetM = total();
  const kvGet = total();
  const rawGetM = total();
  const add = (into, m) => {
    into.wallMs = Math.round((into.wallMs + m.wallMs) * 10) / 10;
    into.cpuMs = Math.round((into.cpuMs + m.cpuMs) * 10) / 10;
  };
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    add(
      kvSet,
      await measure(null, async () => {
        for (let n = 0; n < per; n++) await hot.set(keys[n % HOT_KEYS], { n });
      }),
    );
    add(
      rawSetM,
      await measure(null, async () => {
        for (let n = 0; n < per; n++) rawSet.run(keys[n % HOT_KEYS], Buffer.from(JSON.stringify({ n })));
      }),
    );
    add(
      kvGet,
      await measure(null, async () => {
        for (let n = 0; n < per; n++) sink += (await hot.get(keys[n % HOT_KEYS])).n;
      }),
    );
    add(
      rawGetM,
      await measure(null, async () => {
        for (let n = 0; n < per; n++) sink += JSON.parse(rawGet.get(keys[n % HOT_KEYS]).toString()).n;
      }),
    );
  }
  void sink;
  await hot.close();
  raw.close();
  const perOp = (m) => `${((m.wallMs * 1000) / (per * ROUNDS)).toFixed(2)} µs/op wall`;
  const ratio = (a, b) => `${(a.wallMs / b.wallMs).toFixed(2)}× wall, ${(a.cpuMs / b.cpuMs).toFixed(2)}× CPU`;
  rows.push([`local set, ${HOT_OPS} ops on ${HOT_KEYS} hot keys: kv-store`, kvSet, perOp(kvSet)]);
  rows.push(["local set: raw better-sqlite3 prepared statement", rawSetM, perOp(rawSetM)]);
  rows.push(["→ set ratio kv-store / raw", null, ratio(kvSet, rawSetM)]);
  rows.push([`local get, ${HOT_OPS} ops: kv-store`, kvGet, perOp(kvGet)]);
  rows.push(["local get: raw better-sqlite3 prepared statement", rawGetM, perOp(rawGetM)]);
  rows.push(["→ get ratio kv-store / raw", null, ratio(kvGet, rawGetM)]);
  json.results.hot = {
    set: { kv: kvSet, raw: rawSetM, wallRatio: kvSet.wallMs / rawSetM.wallMs, cpuRatio: kvSet.cpuMs / rawSetM.cpuMs },
    get: { kv: kvGet, raw: rawGetM, wallRatio: kvGet.wallMs / rawGetM.wallMs, cpuRatio: kvGet.cpuMs / rawGetM.cpuMs },
  };
} finally {
  await proxy.stop();
  await server.stop();
}

const lines = [
  "# @toolkit/kv-store benchmark",
  "",
  `Run ${new Date().toISOString()} on Node ${process.version}, S3 server: ${json.server} (through a counting pass-through proxy).`,
  "Requests are HTTP requests seen by the proxy; CPU is this (client) process's user+system time.",
  "",
  "| case | requests | wall ms | client CPU ms | note |",
  "|---|---:|---:|---:|---|",
  ...rows.map(([name, m, note]) =>
    m ? `| ${name} | ${m.requests} | ${m.wallMs} | ${m.cpuMs} | ${note} |` : `| ${name} | | | | **${note}** |`,
  ),
  "",
];
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, "kv-store.md"), lines.join("\n"));
writeFileSync(
  join(resultsDir, "kv-store.json"),
  `${JSON.stringify(json, (k, v) => (k === "result" ? undefined : v), 2)}\n`,
);
process.stdout.write(lines.join("\n"));
