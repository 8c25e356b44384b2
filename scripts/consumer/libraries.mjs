// Run inside the consumer project: import each library by its package name and call it for real,
// against file:// or the local test servers whose endpoints the parent passes in the environment.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const work = process.env.S3KIT_CONSUMER_WORK;
mkdirSync(work, { recursive: true });
const s3 = {
  endpoint: process.env.S3KIT_CONSUMER_S3_ENDPOINT,
  region: "us-east-1",
  credentials: { accessKeyId: "s3kittest", secretAccessKey: "s3kittestsecret" },
};
const dynamo = { ...s3, endpoint: process.env.S3KIT_CONSUMER_DYNAMODB_ENDPOINT };
const suffix = `${Date.now().toString(36)}-${process.pid}`;
let failed = false;

async function step(name, fn) {
  try {
    await fn();
    process.stdout.write(`ok ${name}\n`);
  } catch (error) {
    failed = true;
    process.stdout.write(`FAIL ${name}: ${error?.message ?? error}\n`);
  }
}

await step("@toolkit/shared", async () => {
  const { openObjectStore, createS3Client } = await import("@toolkit/shared");
  const { CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = createS3Client(s3);
  await client.send(new CreateBucketCommand({ Bucket: `consumer-${suffix}` }));
  client.destroy();
  const store = openObjectStore(pathToFileURL(join(work, "store")).href);
  await store.put("a.txt", "hello");
  if (Buffer.from(await store.getBytes("a.txt")).toString() !== "hello") throw new Error("round trip differs");
});

await step("@toolkit/kv-store", async () => {
  const { openKv } = await import("@toolkit/kv-store");
  const remote = pathToFileURL(join(work, "kv-remote")).href;
  const db = await openKv({ path: join(work, "a.db"), remote, flag: "c" });
  await db.set("greeting", { text: "hi" });
  await db.push();
  await db.close();
  const other = await openKv({ path: join(work, "b.db"), remote, flag: "c" });
  await other.pull();
  const value = await other.get("greeting");
  await other.close();
  if (value?.text !== "hi") throw new Error(`pulled ${JSON.stringify(value)}`);
});

await step("@toolkit/dynamo-table", async () => {
  const { z } = await import("zod");
  const { createDynamoDbClient } = await import("@toolkit/shared");
  const { defineResource, createTable } = await import("@toolkit/dynamo-table");
  const Note = defineResource({ type: "Note", schema: z.object({ title: z.string() }), versioned: true });
  const table = createTable({ tableName: `consumer-${suffix}`, client: createDynamoDbClient(dynamo) });
  await table.ensureTable();
  const note = await table.create(Note, { title: "first" });
  const updated = await table.update(Note, note, { title: "second" });
  const back = await table.get(Note, note.id);
  if (back?.title !== "second" || updated.version !== 2) throw new Error(`read back ${JSON.stringify(back)}`);
});

await step("@toolkit/photo-sync", async () => {
  const { syncDirectory } = await import("@toolkit/photo-sync");
  const source = join(work, "photos");
  mkdirSync(join(source, "2026"), { recursive: true });
  writeFileSync(join(source, "2026/a.jpg"), "jpeg");
  const destination = pathToFileURL(join(work, "photos-backup")).href;
  await syncDirectory({ source, destination });
  if (readFileSync(join(work, "photos-backup/2026/a.jpg"), "utf8") !== "jpeg") throw new Error("not backed up");
});

await step("@toolkit/delta-store", async () => {
  const { createDeltaStore } = await import("@toolkit/delta-store");
  const store = createDeltaStore({ location: pathToFileURL(join(work, "deltas")).href });
  const v1 = Buffer.alloc(200_000, 7);
  const v2 = Buffer.from(v1);
  v2.write("changed", 1000);
  writeFileSync(join(work, "app-1.zip"), v1);
  writeFileSync(join(work, "app-2.zip"), v2);
  await store.put(join(work, "app-1.zip"), "app/app-1.zip");
  const second = await store.put(join(work, "app-2.zip"), "app/app-2.zip");
  await store.get("app/app-2.zip", join(work, "out.zip"));
  if (!readFileSync(join(work, "out.zip")).equals(v2)) throw new Error("reconstructed bytes differ");
  if (second.stored !== "delta") throw new Error(`second version stored as ${second.stored}`);
});

await step("@toolkit/s3-object", async () => {
  const { S3File } = await import("@toolkit/s3-object");
  const { openObjectStore } = await import("@toolkit/shared");
  const store = openObjectStore(`s3://consumer-${suffix}/`, s3);
  await store.put("reports/q3.csv", "a,b\n1,2\n");
  await store.close();
  const file = new S3File(`s3://consumer-${suffix}/reports/q3.csv`, { ...s3, cacheDir: join(work, "cache") });
  const first = await file.download();
  const second = await file.download();
  if (!first.transferred || second.transferred)
    throw new Error("conditional download did not skip the unchanged object");
  if ((await file.readText()) !== "a,b\n1,2\n") throw new Error("cached text differs");
});

process.exitCode = failed ? 1 : 0;
