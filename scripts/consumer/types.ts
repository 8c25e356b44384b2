// Type-checked in the consumer project against the packed .d.ts files, under nodenext and bundler resolution.

import { createDeltaStore, DeltaError, type DeltaStore } from "@toolkit/delta-store";
import {
  createRepository,
  createTable,
  DynamoTableError,
  defineResource,
  defineSingleton,
} from "@toolkit/dynamo-table";
import { type Kv, KvError, openKv, openKvGroup } from "@toolkit/kv-store";
import { applyPlan, planSync, restoreDirectory, type SyncPlan, syncDirectory } from "@toolkit/photo-sync";
import { S3File, S3FileManager, S3ObjectError } from "@toolkit/s3-object";
import {
  createDynamoDbClient,
  createS3Client,
  type Location,
  type ObjectStore,
  ObjectStoreError,
  openObjectStore,
  parseLocation,
  retry,
} from "@toolkit/shared";
import { startDynamoDbServer, startFaultProxy, startS3Server } from "@toolkit/shared/testing";
import { z } from "zod";

const location: Location = parseLocation("s3://bucket/prefix");
const store: ObjectStore = openObjectStore(location);
export const uses = [
  store,
  createS3Client,
  createDynamoDbClient,
  retry,
  ObjectStoreError,
  startS3Server,
  startDynamoDbServer,
  startFaultProxy,
];

export async function kv(): Promise<number> {
  const db: Kv = await openKv({ path: "./x.db", flag: "c" });
  await db.set("a", { x: 1 });
  const size: number = await db.size();
  return size;
}
export const kvUses = [openKvGroup, KvError];

const Note = defineResource({
  type: "Note",
  schema: z.object({ title: z.string(), done: z.boolean() }),
  versioned: true,
});
export async function table(): Promise<string> {
  const t = createTable({ tableName: "t", client: createDynamoDbClient() });
  const note = await t.create(Note, { title: "a", done: false });
  const title: string = note.title;
  const id: string = note.id;
  return title + id;
}
export const tableUses = [createRepository, defineSingleton, DynamoTableError];

export async function photos(): Promise<number> {
  const plan: SyncPlan = await planSync({ source: "/photos", destination: "s3://b/Lightroom" });
  await applyPlan(plan, { concurrency: 4 });
  await syncDirectory({ source: "/photos", destination: "file:///backup" });
  const restored = await restoreDirectory({ source: "file:///backup", destination: "/restored", dryRun: true });
  return plan.transfers.length + restored.skipped;
}

export async function deltas(): Promise<void> {
  const d: DeltaStore = createDeltaStore({ location: "s3://b/releases", maxRatio: 0.5, engine: "auto" });
  await d.put("./a.zip", "app/a.zip");
  void DeltaError;
}

export async function objects(): Promise<boolean> {
  const file = new S3File("s3://bucket/reports/q3.csv", { verify: "auto" });
  const { transferred } = await file.download();
  void new S3FileManager({ concurrency: 8 });
  void S3ObjectError;
  return transferred;
}
