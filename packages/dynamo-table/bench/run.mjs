// Benchmark: per-operation overhead of @toolkit/dynamo-table against raw @aws-sdk/lib-dynamodb calls that
// write and read the same layout, on DynamoDB Local. Reports wall-time ratios, client CPU per operation and
// requests per operation (counted through the fault proxy in a separate pass, so the proxy's CPU stays
// out of the timing pass). Writes bench/results/dynamo-table.{md,json} at the repository root.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { createDynamoDbClient } from "@toolkit/shared";
import { startDynamoDbServer, startFaultProxy, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { monotonicFactory } from "ulid";
import { z } from "zod";
import { createTable, defineResource } from "../dist/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 150);
const QUERY_ITERATIONS = Number(process.env.BENCH_QUERY_ITERATIONS ?? 150);
// DynamoDB Local (a JVM) keeps getting faster for the first few hundred calls of a kind: warm each operation up
// well before timing it, or the first operations measured carry the server's JIT warm-up as noise.
const WARMUP_ITERATIONS = Number(process.env.BENCH_WARMUP_ITERATIONS ?? 50);

const schema = z.object({ title: z.string(), ownerId: z.string(), status: z.enum(["open", "done"]), n: z.number() });
const Flat = defineResource({ type: "Flat", schema });
const Note = defineResource({ type: "Note", schema, versioned: true });
const input = (i) => ({ title: `note ${i}`, ownerId: `u${i % 7}`, status: i % 2 ? "open" : "done", n: i });

/** Raw lib-dynamodb code writing the same layout by hand (what a user would write without the library). */
function rawOps(doc, tableName) {
  const ulid = monotonicFactory();
  const flatItem = (fields, id, now) => ({
    pk: `Flat#${id}`,
    sk: `Flat#${id}`,
    ...fields,
    resource_id: id,
    created_at: now,
    updated_at: now,
    gsitype: "Flat",
    gsitypesk: now,
  });
  const noteItems = (fields, id, created, now, version) => {
    const data = gzipSync(
      JSON.stringify({ ...fields, resource_id: id, created_at: created, updated_at: now, version }),
    );
    const base = { pk: `Note#${id}`, data, version, updated_at: now };
    return [
      { ...base, sk: `v${version}` },
      { ...base, sk: "v0", gsitype: "Note", gsitypesk: now },
    ];
  };
  return {
    async createFlat(fields) {
      const id = ulid();
      const now = new Date().toISOString();
      const Item = flatItem(fields, id, now);
      await doc.send(new PutCommand({ TableName: tableName, Item, ConditionExpression: "attribute_not_exists(pk)" }));
      return Item;
    },
    async getFlat(id) {
      return (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `Flat#${id}`, sk: `Flat#${id}` } })))
        .Item;
    },
    async createNote(fields) {
      const id = ulid();
      const now = new Date().toISOString();
      const [v1, v0] = noteItems(fields, id, now, now, 1);
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: tableName, Item: v1, ConditionExpression: "attribute_not_exists(pk)" } },
            { Put: { TableName: tableName, Item: v0, ConditionExpression: "attribute_not_exists(pk)" } },
          ],
        }),
      );
      return { id, created: now, version: 1, fields };
    },
    async updateNote(note, patch) {
      const now = new Date().toISOString();
      const fields = { ...note.fields, ...patch };
      const [vn, v0] = noteItems(fields, note.id, note.created, now, note.version + 1);
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: tableName, Item: vn, ConditionExpression: "attribute_not_exists(pk)" } },
            {
              Put: {
                TableName: tableName,
                Item: v0,
                ConditionExpression: "#v = :prev",
                ExpressionAttributeNames: { "#v": "version" },
                ExpressionAttributeValues: { ":prev": note.version },
              },
            },
          ],
        }),
      );
      return { ...note, fields, version: note.version + 1 };
    },
    async getNote(id) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `Note#${id}`, sk: "v0" } }));
      return out.Item && JSON.parse(gunzipSync(out.Item.data).toString("utf8"));
    },
    // Field-level writes as a user would hand-write them: one conditional UpdateItem, updated_at/gsitypesk kept in
    // step (as the library and simplesingletable's counters do).
    async patchFlat(id, i) {
      const now = new Date().toISOString();
      const out = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: `Flat#${id}`, sk: `Flat#${id}` },
          UpdateExpression: "SET #u = :now, #g = :now, #s = :s ADD #n :one",
          ConditionExpression: "attribute_exists(#pk)",
          ExpressionAttributeNames: { "#pk": "pk", "#u": "updated_at", "#g": "gsitypesk", "#s": "status", "#n": "n" },
          ExpressionAttributeValues: { ":now": now, ":s": i % 2 ? "open" : "done", ":one": 1 },
          ReturnValues: "ALL_NEW",
        }),
      );
      return out.Attributes;
    },
    async incrementFlat(id) {
      const now = new Date().toISOString();
      const out = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: `Flat#${id}`, sk: `Flat#${id}` },
          UpdateExpression: "SET #u = :now, #g = :now ADD #n :one",
          ConditionExpression: "attribute_exists(#pk)",
          ExpressionAttributeNames: { "#pk": "pk", "#u": "updated_at", "#g": "gsitypesk", "#n": "n" },
          ExpressionAttributeValues: { ":now": now, ":one": 1 },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(out.Attributes.n);
    },
    async batchGet100(ids) {
      const found = [];
      let keys = ids.slice(0, 100).map((id) => ({ pk: `Flat#${id}`, sk: `Flat#${id}` }));
      while (keys.length > 0) {
        const out = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys } } }));
        found.push(...(out.Responses?.[tableName] ?? []));
        keys = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
      return found;
    },
    async query100() {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: "gsitype",
          KeyConditionExpression: "gsitype = :t",
          ExpressionAttributeValues: { ":t": "Flat" },
          Limit: 100,
        }),
      );
      return out.Items;
    },
  };
}

function libOps(table) {
  return {
    createFlat: (fields) => table.create(Flat, fields),
    getFlat: (id) => table.get(Flat, id),
    createNote: (fields) => table.create(Note, fields),
    updateNote: (note, patch) => table.update(Note, note, patch),
    getNote: (id) => table.get(Note, id),
    query100: async () => (await table.list(Flat, { limit: 100 })).items,
    patchFlat: (id, i) => table.patch(Flat, id, { set: { status: i % 2 ? "open" : "done" }, add: { n: 1 } }),
    incrementFlat: (id) => table.increment(Flat, id, "n"),
    batchGet100: (ids) => table.batchGet(Flat, ids.slice(0, 100)),
  };
}

/** The operations, each a function of (ops, state, i) run for both implementations. */
const operations = [
  { name: "create (non-versioned)", run: (o, _s, i) => o.createFlat(input(i)) },
  { name: "get (non-versioned)", run: (o, s, i) => o.getFlat(s.flatIds[i % s.flatIds.length]) },
  { name: "create (versioned, gzip)", run: (o, _s, i) => o.createNote(input(i)) },
  { name: "get (versioned, gzip)", run: (o, s, i) => o.getNote(s.noteIds[i % s.noteIds.length]) },
  {
    name: "update (versioned, gzip)",
    run: async (o, s, i) => {
      s.current = await o.updateNote(s.current, { n: i });
    },
  },
  { name: "query 100 items", run: (o) => o.query100(), iterations: QUERY_ITERATIONS },
  { name: "patch (set + add, non-versioned)", run: (o, s, i) => o.patchFlat(s.flatIds[i % s.flatIds.length], i) },
  { name: "increment (non-versioned)", run: (o, s, i) => o.incrementFlat(s.flatIds[i % s.flatIds.length]) },
  { name: "batchGet 100 items", run: (o, s) => o.batchGet100(s.flatIds), iterations: QUERY_ITERATIONS },
];

async function setup(label, client) {
  const table = createTable({ tableName: uniqueName(`bench-${label}`), client });
  await table.ensureTable();
  const lib = libOps(table);
  const raw = rawOps(table.documentClient, table.tableName);
  // Shared fixtures: 120 flat items (for gets and the 100-item query) and 20 notes.
  const flatIds = [];
  for (let i = 0; i < 120; i++) flatIds.push((await lib.createFlat(input(i))).id);
  const noteIds = [];
  for (let i = 0; i < 20; i++) noteIds.push((await lib.createNote(input(i))).id);
  return {
    table,
    lib: { ops: lib, state: { flatIds, noteIds, current: await lib.createNote(input(0)) } },
    raw: { ops: raw, state: { flatIds, noteIds, current: await raw.createNote(input(0)) } },
  };
}

const server = await startDynamoDbServer();
try {
  // Pass 1: requests per operation, through the fault proxy (no faults).
  const proxy = await startFaultProxy({ target: server.endpoint });
  const counted = createDynamoDbClient({ ...testClientOptions(server, proxy.endpoint), maxAttempts: 1 });
  const c = await setup("count", counted);
  const requests = {};
  for (const op of operations) {
    requests[op.name] = {};
    for (const side of ["lib", "raw"]) {
      const before = proxy.requests.length;
      const n = 5;
      for (let i = 0; i < n; i++) await op.run(c[side].ops, c[side].state, i + 1000);
      requests[op.name][side] = (proxy.requests.length - before) / n;
    }
  }
  // Library-only operations: requests per call.
  const Pruned = defineResource({ type: "Note", schema, versioned: true, maxVersions: 5 });
  const extra = [];
  const countOf = async (name, fn) => {
    const before = proxy.requests.length;
    await fn();
    extra.push({ operation: name, requests: proxy.requests.length - before });
  };
  let note = await c.table.create(Note, input(1));
  for (let i = 0; i < 9; i++) note = await c.table.update(Note, note, { n: i });
  await countOf("update with maxVersions 5 (prunes 5 of 10 versions)", async () => {
    note = await c.table.update(Pruned, note, { n: 99 });
  });
  await countOf("update with maxVersions 5 (steady state, prunes 1)", async () => {
    note = await c.table.update(Pruned, note, { n: 100 });
  });
  await countOf("versions (5 versions)", () => c.table.versions(Note, note.id));
  await countOf("restore", () => c.table.restore(Note, note.id, 10));
  await countOf("delete (versioned, 6 versions)", () => c.table.delete(Note, note.id));
  await countOf("delete (non-versioned)", () => c.table.delete(Flat, c.lib.state.flatIds[0]));
  await countOf("list 20 with a filter keeping 1 in 2 (flat)", () =>
    c.table.list(Flat, { limit: 20, where: (f) => f.eq("status", "open") }),
  );
  const Packed = defineResource({ type: "Packed", schema, compress: true });
  for (let i = 0; i < 60; i++) await c.table.create(Packed, input(i));
  await countOf("list 20 with a filter keeping 1 in 2 (compressed, filtered after decoding)", () =>
    c.table.list(Packed, { limit: 20, where: (f) => f.eq("status", "open") }),
  );
  const a = await c.table.create(Note, input(1));
  const b = await c.table.create(Note, input(2));
  await countOf("transaction (2 versioned updates + 1 check)", () =>
    c.table.transaction((tx) => {
      tx.update(Note, a, { n: 1 });
      tx.update(Note, b, { n: 1 });
      tx.check(Flat, c.lib.state.flatIds[1]);
    }),
  );
  counted.destroy();
  await proxy.stop();

  // Pass 2: timing and client CPU, direct to the server; library and raw interleaved call by call.
  const client = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 1 });
  const t = await setup("time", client);
  const rows = [];
  for (const op of operations) {
    const n = op.iterations ?? ITERATIONS;
    const acc = { lib: { ms: [], cpu: 0 }, raw: { ms: [], cpu: 0 } };
    for (let i = 0; i < WARMUP_ITERATIONS; i++) {
      await op.run(t.lib.ops, t.lib.state, i + 5000); // warm-up
      await op.run(t.raw.ops, t.raw.state, i + 5000);
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? ["lib", "raw"] : ["raw", "lib"];
      for (const side of order) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await op.run(t[side].ops, t[side].state, i + 10_000);
        acc[side].ms.push(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        acc[side].cpu += cpu.user + cpu.system;
      }
    }
    const median = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)];
    };
    const libMs = median(acc.lib.ms);
    const rawMs = median(acc.raw.ms);
    rows.push({
      operation: op.name,
      iterations: n,
      libMedianMs: +libMs.toFixed(3),
      rawMedianMs: +rawMs.toFixed(3),
      wallRatio: +(libMs / rawMs).toFixed(3),
      libCpuUsPerOp: Math.round(acc.lib.cpu / n),
      rawCpuUsPerOp: Math.round(acc.raw.cpu / n),
      cpuRatio: +(acc.lib.cpu / acc.raw.cpu).toFixed(3),
      libRequests: requests[op.name].lib,
      rawRequests: requests[op.name].raw,
    });
    process.stderr.write(`${op.name}: ${JSON.stringify(rows.at(-1))}\n`);
  }
  client.destroy();

  const md = [
    "## @toolkit/dynamo-table",
    "",
    `Library calls against hand-written \`@aws-sdk/lib-dynamodb\` calls that store the same layout (gzip JSON for versioned items), on DynamoDB Local (${server.source}), same run, interleaved call by call. Median wall time per operation; client CPU (process.cpuUsage) per operation; requests per operation counted through a proxy. Target: wall ratio ≤ 1.15.`,
    "",
    "| operation | n | library ms | raw ms | wall ratio | library CPU µs | raw CPU µs | CPU ratio | library requests | raw requests |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.operation} | ${r.iterations} | ${r.libMedianMs} | ${r.rawMedianMs} | ${r.wallRatio}× | ${r.libCpuUsPerOp} | ${r.rawCpuUsPerOp} | ${r.cpuRatio}× | ${r.libRequests} | ${r.rawRequests} |`,
    ),
    "",
    "Library work the raw calls skip: zod validation on write and on read, mapping stored names to the item shape, and (query) a cursor. The raw versioned get does gunzip + JSON.parse like the library. `update` here has no `maxVersions`, so no prune Query. `patch` validates each changed field against the schema and decodes the returned item (`ALL_NEW`) through the schema, the raw call returns the raw attributes; `increment` asks for `UPDATED_NEW` on both sides; `batchGet` decodes and validates 100 items (the raw call returns them as stored).",
    "",
    "Requests of other library operations (one call each):",
    "",
    "| operation | requests |",
    "|---|---:|",
    ...extra.map((e) => `| ${e.operation} | ${e.requests} |`),
    "",
  ].join("\n");
  const out = join(root, "bench/results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "dynamo-table.md"), md);
  writeFileSync(
    join(out, "dynamo-table.json"),
    `${JSON.stringify({ package: "@toolkit/dynamo-table", date: new Date().toISOString(), node: process.version, server: server.source, rows, requests: extra }, null, 2)}\n`,
  );
  process.stdout.write(md);
} finally {
  await server.stop();
}
