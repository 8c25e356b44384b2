import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { applyPlan, isPhotoSyncError, planSync, syncDirectory } from "./index.ts";

let server: TestServer;
let proxy: FaultProxy;
let work: string;

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy({ target: server.endpoint, seed: 11 });
  work = await mkdtemp(join(tmpdir(), "photo-sync-it-"));
});
afterAll(async () => {
  await proxy.stop();
  await rm(work, { recursive: true, force: true });
});

const NFD_NAME = "Cafe\u0301 Mu\u0308nchen.jpg"; // "Café München.jpg" as macOS writes it
const NFC_NAME = NFD_NAME.normalize("NFC");

/** A small Lightroom-like library; returns the expected key → bytes of what must be backed up. */
async function makeLibrary(tag: string): Promise<{ dir: string; expected: Map<string, Buffer> }> {
  const dir = await mkdtemp(join(work, `${tag}-`));
  const expected = new Map<string, Buffer>();
  const put = async (rel: string, body: Buffer, backedUp = true) => {
    const path = join(dir, ...rel.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    if (backedUp) expected.set(rel.normalize("NFC"), body);
  };
  await put("Catalog.lrcat", randomBytes(3000));
  await put("Catalog.lrcat-wal", randomBytes(100), false);
  await put("Catalog Previews.lrdata/a/b/preview.lrprev", randomBytes(500), false);
  await put("2024/2024-06-01 Summer trip/IMG 0001.CR2", randomBytes(4096));
  await put("2024/2024-06-01 Summer trip/IMG 0001.xmp", Buffer.from("<x:xmpmeta/>"));
  await put(`2024/Travel/${NFD_NAME}`, randomBytes(2048));
  await put("2025/deep/er/still deeper/photo (1).jpg", randomBytes(1024));
  await put(".DS_Store", randomBytes(10), false);
  await put("empty.txt", Buffer.alloc(0));
  return { dir, expected };
}

async function bucket(tag: string) {
  return createTestBucket(server, tag);
}

async function readBack(url: string, endpoint = server.endpoint): Promise<Map<string, Buffer>> {
  const store = openObjectStore(url, testClientOptions(server, endpoint));
  const out = new Map<string, Buffer>();
  for await (const entry of store.list()) {
    if (entry.kind === "object") out.set(entry.key, Buffer.from(await store.getBytes(entry.key)));
  }
  await store.close();
  return out;
}

function expectSame(actual: Map<string, Buffer>, expected: Map<string, Buffer>) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, body] of expected) expect(actual.get(key)?.equals(body), key).toBe(true);
}

describe("photo-sync against the S3 server", () => {
  test("uploads nested folders, spaces and NFD names under NFC keys; excludes Lightroom caches; bytes read back identical", async () => {
    const { dir, expected } = await makeLibrary("tree");
    const { url } = await bucket("ps-tree");
    const statePath = join(work, "tree.state");
    const summary = await syncDirectory({
      source: dir,
      destination: `${url}Lightroom`,
      statePath,
      ...testClientOptions(server),
    });
    expect(summary.failed).toBe(0);
    expect(summary.transferred).toBe(expected.size);
    expect(summary.scanned).toBe(expected.size);
    const stored = await readBack(`${url}Lightroom/`);
    expectSame(stored, expected);
    expect(stored.has(`2024/Travel/${NFC_NAME}`)).toBe(true);
    expect(stored.has(`2024/Travel/${NFD_NAME}`)).toBe(false);
    const store = openObjectStore(`${url}Lightroom/`, testClientOptions(server));
    const info = await store.head("2025/deep/er/still deeper/photo (1).jpg");
    expect(info?.contentType).toBe("image/jpeg");
    expect(Number(info?.metadata.mtime)).toBeGreaterThan(1_000_000_000);
    await store.close();
  });

  test("a no-change re-run uploads nothing and makes only listing requests", async () => {
    const { dir, expected } = await makeLibrary("rerun");
    const { url } = await bucket("ps-rerun");
    const statePath = join(work, "rerun.state");
    const options = {
      source: dir,
      destination: `${url}backup`,
      statePath,
      ...testClientOptions(server, proxy.endpoint),
    };
    proxy.setFaults([]);
    await syncDirectory(options);
    const before = proxy.requests.length;
    const again = await syncDirectory(options);
    const made = proxy.requests.slice(before);
    expect(again.transferred).toBe(0);
    expect(again.skipped).toBe(expected.size);
    expect(made.length).toBeGreaterThan(0);
    for (const request of made) {
      expect(request.method).toBe("GET");
      expect(request.path).toContain("list-type=2");
    }
  });

  test("a same-size edit is uploaded in size-mtime mode, with and without the state file", async () => {
    const { dir } = await makeLibrary("edit");
    const { url } = await bucket("ps-edit");
    const file = join(dir, "2025/deep/er/still deeper/photo (1).jpg");
    for (const statePath of [join(work, "edit.state"), false as const]) {
      const options = { source: dir, destination: url, statePath, ...testClientOptions(server) };
      await syncDirectory(options);
      const edited = randomBytes(1024);
      await writeFile(file, edited);
      const later = new Date(Date.now() + 120_000);
      await utimes(file, later, later);
      const summary = await syncDirectory(options);
      expect(summary.transferred).toBe(1);
      const stored = await readBack(url);
      expect(stored.get("2025/deep/er/still deeper/photo (1).jpg")?.equals(edited)).toBe(true);
    }
  });

  test("checksum mode finds a same-size edit whose mtime was put back; size-mtime trusts the mtime", async () => {
    const { dir } = await makeLibrary("checksum");
    const { url } = await bucket("ps-checksum");
    const statePath = join(work, "checksum.state");
    const options = { source: dir, destination: url, statePath, ...testClientOptions(server) };
    await syncDirectory(options);
    const file = join(dir, "Catalog.lrcat");
    const original = new Date("2024-01-02T03:04:05Z");
    await utimes(file, original, original);
    await syncDirectory(options); // records the new mtime
    const edited = randomBytes(3000);
    await writeFile(file, edited);
    await utimes(file, original, original);
    const sizeMtime = await planSync(options);
    expect(sizeMtime.transfers).toHaveLength(0);
    const summary = await syncDirectory({ ...options, compare: "checksum" });
    expect(summary.transferred).toBe(1);
    expect((await readBack(url)).get("Catalog.lrcat")?.equals(edited)).toBe(true);
    const again = await planSync({ ...options, compare: "checksum" });
    expect(again.transfers).toHaveLength(0);
    // A checksum run caches the hashes; a later same-size edit with the mtime put back must not hit that cache.
    expect((await syncDirectory({ ...options, compare: "checksum" })).transferred).toBe(0);
    const edited2 = randomBytes(3000);
    await writeFile(file, edited2);
    await utimes(file, original, original);
    expect((await planSync({ ...options, compare: "checksum" })).transfers.map((u) => u.key)).toEqual([
      "Catalog.lrcat",
    ]);
  });

  test("--dry-run changes nothing and returns the plan", async () => {
    const { dir, expected } = await makeLibrary("dry");
    const { url, client, bucket: name } = await bucket("ps-dry");
    await client.send(new PutObjectCommand({ Bucket: name, Key: "p/orphan.jpg", Body: "old" }));
    const result = await syncDirectory({
      source: dir,
      destination: `${url}p`,
      dryRun: true,
      deleteOrphans: true,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(result.dryRun).toBe(true);
    expect(result.plan?.transfers.map((u) => u.key).sort()).toEqual([...expected.keys()].sort());
    expect(result.plan?.deletes.map((d) => d.key)).toEqual(["orphan.jpg"]);
    expect(result.transferred).toBe(0);
    const stored = await readBack(url);
    expect([...stored.keys()]).toEqual(["p/orphan.jpg"]);
  });

  test("deleteOrphans deletes only orphans under the prefix: a sibling prefix and excluded files stay", async () => {
    const { dir, expected } = await makeLibrary("delete");
    const { url, client, bucket: name } = await bucket("ps-delete");
    const seed = async (key: string) => client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: key }));
    await seed("Lightroom Backups/2023/keep.lrcat");
    await seed("LightroomX.jpg");
    await seed("Lightroom/gone.jpg");
    await seed("Lightroom/2024/gone too.jpg");
    await seed("Lightroom/Catalog Previews.lrdata/root-pixels.db");
    await seed("Lightroom/Catalog.lrcat-wal");
    await seed("Lightroom/notes.tmp");
    const summary = await syncDirectory({
      source: dir,
      destination: `${url}Lightroom`,
      exclude: ["*.tmp"],
      deleteOrphans: true,
      // Both objects that take part are orphans: 100 % of the destination, over the default 50 % limit.
      maxDeletePercent: 100,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(summary.deleted).toBe(2);
    const stored = await readBack(url);
    const keys = [...stored.keys()];
    expect(keys).toContain("Lightroom Backups/2023/keep.lrcat");
    expect(keys).toContain("LightroomX.jpg");
    expect(keys).toContain("Lightroom/Catalog Previews.lrdata/root-pixels.db");
    expect(keys).toContain("Lightroom/Catalog.lrcat-wal");
    expect(keys).toContain("Lightroom/notes.tmp");
    expect(keys).not.toContain("Lightroom/gone.jpg");
    expect(keys).not.toContain("Lightroom/2024/gone too.jpg");
    for (const key of expected.keys()) expect(keys).toContain(`Lightroom/${key}`);
  });

  test("scan errors block deletion; the rest is still uploaded and the run reports the failures", async () => {
    const { dir } = await makeLibrary("scanerr");
    // Two names that normalise to the same key (possible on Linux), and a dangling link when following links.
    await writeFile(join(dir, "2024/Travel", NFC_NAME), randomBytes(10));
    await symlink(join(dir, "missing-target"), join(dir, "dangling"));
    const { url, client, bucket: name } = await bucket("ps-scanerr");
    await client.send(new PutObjectCommand({ Bucket: name, Key: "orphan.jpg", Body: "x" }));
    const summary = await syncDirectory({
      source: dir,
      destination: url,
      deleteOrphans: true,
      followSymlinks: true,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(summary.failed).toBeGreaterThanOrEqual(2);
    expect(summary.failures.map((f) => f.code)).toEqual(expect.arrayContaining(["keyCollision", "ENOENT"]));
    expect(summary.deleted).toBe(0);
    expect(summary.deleteBlocked).toMatch(/2 path\(s\) or key\(s\) could not be read/);
    expect(summary.transferred).toBeGreaterThan(0);
    expect((await readBack(url)).has("orphan.jpg")).toBe(true);
  });

  test("more orphans than maxDelete stops the run before anything changes", async () => {
    const { dir } = await makeLibrary("maxdel");
    const { url, client, bucket: name } = await bucket("ps-maxdel");
    for (let i = 0; i < 4; i++)
      await client.send(new PutObjectCommand({ Bucket: name, Key: `old-${i}.jpg`, Body: "x" }));
    const error = await syncDirectory({
      source: dir,
      destination: url,
      deleteOrphans: true,
      maxDelete: 3,
      statePath: false,
      ...testClientOptions(server),
    }).catch((e: unknown) => e);
    expect(isPhotoSyncError(error, "photoSync.tooManyDeletes")).toBe(true);
    expect((error as Error).message).toMatch(/4 of 4 item.*limit of 3\b.*--max-delete 4/);
    expect((await readBack(url)).size).toBe(4);
  });

  test("503s, resets and lost answers are retried and the final state is complete (multipart included)", async () => {
    const { dir, expected } = await makeLibrary("faults");
    const big = randomBytes(11 * 1024 * 1024 + 123);
    await writeFile(join(dir, "big.dng"), big);
    expected.set("big.dng", big);
    const { url } = await bucket("ps-faults");
    proxy.setFaults([
      // Each kind at least once for sure (the first matching rule applies), then more at random.
      { match: { method: "PUT" }, times: 2, action: { type: "dropResponse" } },
      { match: { method: "PUT" }, times: 2, action: { type: "reset" } },
      { match: { method: "POST" }, times: 1, action: { type: "internalError" } },
      { match: { method: "PUT" }, probability: 0.3, action: { type: "slowDown" } },
      { match: { method: "PUT" }, probability: 0.15, action: { type: "reset" } },
      { match: { method: "POST" }, probability: 0.2, action: { type: "internalError" } },
      { match: { method: "PUT" }, probability: 0.1, action: { type: "dropResponse" } },
      { match: { method: "GET" }, times: 1, action: { type: "slowDown" } },
      { match: { method: "GET" }, times: 1, action: { type: "resetMidBody" } },
    ]);
    const before = proxy.requests.length;
    try {
      const summary = await syncDirectory({
        source: dir,
        destination: url,
        statePath: false,
        multipartThresholdBytes: 5 * 1024 * 1024,
        partSizeBytes: 5 * 1024 * 1024,
        attempts: 8,
        ...testClientOptions(server, proxy.endpoint),
      });
      expect(summary.failed).toBe(0);
    } finally {
      proxy.setFaults([]);
    }
    const applied = new Set(proxy.requests.slice(before).map((r) => r.fault));
    for (const fault of ["slowDown", "reset", "internalError", "dropResponse", "resetMidBody"]) {
      expect(applied.has(fault as never), fault).toBe(true);
    }
    expectSame(await readBack(url), expected);
  });

  test("a run interrupted midway rejects with the summary so far, leaves no multipart upload, and a re-run converges", async () => {
    const { dir, expected } = await makeLibrary("abort");
    for (let i = 0; i < 30; i++) {
      const body = randomBytes(2000 + i);
      await writeFile(join(dir, `burst-${String(i).padStart(2, "0")}.jpg`), body);
      expected.set(`burst-${String(i).padStart(2, "0")}.jpg`, body);
    }
    const big = randomBytes(12 * 1024 * 1024);
    await writeFile(join(dir, "aaa-big.tif"), big);
    expected.set("aaa-big.tif", big);
    const { url, client, bucket: name } = await bucket("ps-abort");
    const statePath = join(work, "abort.state");
    const options = {
      source: dir,
      destination: url,
      statePath,
      concurrency: 2,
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
      ...testClientOptions(server),
    };
    const controller = new AbortController();
    const error = await syncDirectory({
      ...options,
      signal: controller.signal,
      // Abort once the multipart upload of the big file is under way (its first part is done).
      onProgress: (p) => {
        if (p.current === "aaa-big.tif") controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(isPhotoSyncError(error, "photoSync.aborted")).toBe(true);
    const partial = (error as { summary?: { transferred: number; aborted: boolean } }).summary;
    expect(partial?.aborted).toBe(true);
    expect(partial?.transferred).toBeLessThan(expected.size);
    const uploads = await listMultipart(client, name);
    expect(uploads).toBe(0);
    const summary = await syncDirectory(options);
    expect(summary.failed).toBe(0);
    // A file whose PUT completed on the server as the abort landed is not counted by either run; the
    // re-run finds it current. Every file is accounted for, and the content converges.
    expect(summary.transferred + summary.skipped).toBe(expected.size);
    expectSame(await readBack(url), expected);
    expect((await syncDirectory(options)).transferred).toBe(0);
  });

  test("a run aborted while a 12 MiB file goes up in one streamed PUT: rejects, nothing half-stored, a re-run converges", async () => {
    const { dir, expected } = await makeLibrary("abort-put");
    const big = randomBytes(12 * 1024 * 1024);
    await writeFile(join(dir, "aaa-big.tif"), big);
    expected.set("aaa-big.tif", big);
    const { url } = await bucket("ps-abort-put");
    const options = {
      source: dir,
      destination: url,
      statePath: join(work, "abort-put.state"),
      concurrency: 2,
      ...testClientOptions(server, proxy.endpoint),
    };
    // The big file's PUT waits at the proxy; the run is aborted while it does.
    proxy.setFaults([{ match: { method: "PUT", path: /aaa-big\.tif/ }, action: { type: "delay", ms: 1_500 } }]);
    const controller = new AbortController();
    const before = proxy.requests.length;
    const inFlight = () => proxy.requests.slice(before).some((r) => r.method === "PUT" && r.path.includes("aaa-big"));
    let error: unknown;
    try {
      const run = syncDirectory({ ...options, signal: controller.signal }).catch((e: unknown) => e);
      while (!inFlight()) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      error = await run;
    } finally {
      proxy.setFaults([]);
    }
    expect(isPhotoSyncError(error, "photoSync.aborted")).toBe(true);
    const stored = await readBack(url);
    expect(stored.has("aaa-big.tif") ? stored.get("aaa-big.tif")!.equals(big) : true).toBe(true);
    const summary = await syncDirectory(options);
    expect(summary.failed).toBe(0);
    expect(summary.transferred + summary.skipped).toBe(expected.size);
    expectSame(await readBack(url), expected);
  });

  test("a failed upload is reported item by item, the run goes on, and a re-run uploads only that file", async () => {
    const { dir, expected } = await makeLibrary("itemfail");
    const { url } = await bucket("ps-itemfail");
    const options = {
      source: dir,
      destination: url,
      statePath: join(work, "itemfail.state"),
      attempts: 2,
      ...testClientOptions(server, proxy.endpoint),
    };
    proxy.setFaults([{ match: { method: "PUT", path: /\/Catalog\.lrcat(\?|$)/ }, action: { type: "forbidden" } }]);
    let first: Awaited<ReturnType<typeof syncDirectory>>;
    try {
      first = await syncDirectory(options);
    } finally {
      proxy.setFaults([]);
    }
    expect(first.failed).toBe(1);
    expect(first.failures).toEqual([expect.objectContaining({ action: "upload", key: "Catalog.lrcat" })]);
    expect(first.transferred).toBe(expected.size - 1);
    const stored = await readBack(url);
    expect(stored.has("Catalog.lrcat")).toBe(false);
    expect(stored.size).toBe(expected.size - 1);
    const again = await syncDirectory(options);
    expect(again.failed).toBe(0);
    expect(again.transferred).toBe(1);
    expectSame(await readBack(url), expected);
  });

  test("a file that vanishes between plan and upload is one failure; the rest goes up", async () => {
    const { dir, expected } = await makeLibrary("vanish");
    const { url } = await bucket("ps-vanish");
    const connection = testClientOptions(server);
    const plan = await planSync({ source: dir, destination: url, statePath: false, ...connection });
    await rm(join(dir, "Catalog.lrcat"));
    const summary = await applyPlan(plan, connection);
    expect(summary.failures).toEqual([
      expect.objectContaining({ action: "upload", key: "Catalog.lrcat", code: "ENOENT" }),
    ]);
    expect(summary.failed).toBe(1);
    expect(summary.transferred).toBe(expected.size - 1);
    expected.delete("Catalog.lrcat");
    expectSame(await readBack(url), expected);
  });

  test("without deleteOrphans, orphans are counted and kept", async () => {
    const { dir } = await makeLibrary("keep");
    const { url, client, bucket: name } = await bucket("ps-keep");
    await client.send(new PutObjectCommand({ Bucket: name, Key: "old.jpg", Body: "x" }));
    const summary = await syncDirectory({
      source: dir,
      destination: url,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(summary.extraneous).toBe(1);
    expect(summary.deleted).toBe(0);
    expect((await readBack(url)).has("old.jpg")).toBe(true);
  });

  test("include narrows the backup, defaultExcludes: false backs up Lightroom caches, storageClass is applied", async () => {
    const { dir } = await makeLibrary("include");
    const { url } = await bucket("ps-include");
    const only = await syncDirectory({
      source: dir,
      destination: `${url}only`,
      include: ["*.CR2", "*.xmp"],
      statePath: false,
      storageClass: "STANDARD_IA",
      ...testClientOptions(server),
    });
    expect(only.transferred).toBe(2);
    const store = openObjectStore(`${url}only/`, testClientOptions(server));
    const listed = [];
    for await (const entry of store.list()) if (entry.kind === "object") listed.push(entry);
    expect(listed.map((e) => e.key).sort()).toEqual([
      "2024/2024-06-01 Summer trip/IMG 0001.CR2",
      "2024/2024-06-01 Summer trip/IMG 0001.xmp",
    ]);
    expect((await store.head("2024/2024-06-01 Summer trip/IMG 0001.CR2"))?.storageClass).toBe("STANDARD_IA");
    await store.close();
    const all = await syncDirectory({
      source: dir,
      destination: `${url}all`,
      defaultExcludes: false,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(all.excluded).toBe(0);
    const keys = [...(await readBack(`${url}all/`)).keys()];
    expect(keys).toEqual(
      expect.arrayContaining(["Catalog.lrcat-wal", "Catalog Previews.lrdata/a/b/preview.lrprev", ".DS_Store"]),
    );
  });

  test("size mode compares sizes only: a same-size edit is not seen, a size change is", async () => {
    const { dir } = await makeLibrary("sizeonly");
    const { url } = await bucket("ps-sizeonly");
    const options = { source: dir, destination: url, statePath: false as const, compare: "size" as const };
    await syncDirectory({ ...options, ...testClientOptions(server) });
    const file = join(dir, "Catalog.lrcat");
    const later = new Date(Date.now() + 120_000);
    await writeFile(file, randomBytes(3000));
    await utimes(file, later, later);
    await writeFile(join(dir, "empty.txt"), "now longer");
    const plan = await planSync({ ...options, ...testClientOptions(server) });
    expect(plan.transfers.map((u) => [u.key, u.reason])).toEqual([["empty.txt", "size"]]);
  });

  test("checksum mode verifies multipart objects by the part size in their metadata, and by SHA-256", async () => {
    const MiB = 1024 * 1024;
    const dir = await mkdtemp(join(work, "mpcheck-"));
    const file = join(dir, "big.dng");
    const original = randomBytes(11 * MiB + 5);
    await writeFile(file, original);
    const { url } = await bucket("ps-mpcheck");
    const connection = testClientOptions(server);
    // Uploaded with 6 MiB parts; compared below with our own 5 MiB and no state: only the metadata can tell.
    const up = { source: dir, destination: url, statePath: false as const, multipartThresholdBytes: 5 * MiB };
    await syncDirectory({ ...up, partSizeBytes: 6 * MiB, ...connection });
    const store = openObjectStore(url, connection);
    const first = await store.head("big.dng");
    expect(first?.etag).toMatch(/-2"$/);
    expect(first?.metadata["s3kit-part-size"]).toBe(String(6 * MiB));
    const check = { ...up, partSizeBytes: 5 * MiB, compare: "checksum" as const, ...connection };
    expect((await planSync(check)).transfers).toHaveLength(0);
    // Same size, same mtime, other bytes: checksum finds it and re-uploads with the SHA-256 in the metadata.
    const stat0 = await stat(file);
    const edited = Buffer.from(original);
    edited[7 * MiB] = (edited[7 * MiB]! + 1) % 256;
    await writeFile(file, edited);
    await utimes(file, stat0.atime, stat0.mtime);
    expect((await planSync({ ...check, compare: "size-mtime" })).transfers).toHaveLength(0);
    const summary = await syncDirectory(check);
    expect(summary.transferred).toBe(1);
    const second = await store.head("big.dng");
    expect(second?.metadata["s3kit-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(second?.metadata["s3kit-part-size"]).toBe(String(5 * MiB));
    expect(Buffer.from(await store.getBytes("big.dng")).equals(edited)).toBe(true);
    // Verified again with yet another part size: the SHA-256 decides.
    expect((await planSync({ ...check, partSizeBytes: 7 * MiB })).transfers).toHaveLength(0);
    await store.close();
  });

  test("a plan can be serialised, read back and applied", async () => {
    const { dir, expected } = await makeLibrary("json");
    const { url } = await bucket("ps-json");
    const connection = testClientOptions(server);
    const plan = await planSync({ source: dir, destination: url, statePath: join(work, "json.state"), ...connection });
    const copy = JSON.parse(JSON.stringify(plan));
    const summary = await applyPlan(copy, { ...connection, concurrency: 4 });
    expect(summary.transferred).toBe(expected.size);
    expectSame(await readBack(url), expected);
  });

  test("file:// destinations get the same behaviour", async () => {
    const { dir, expected } = await makeLibrary("file");
    const target = join(work, "file-backup");
    const first = await syncDirectory({ source: dir, destination: `file://${target}`, statePath: false });
    expect(first.transferred).toBe(expected.size);
    for (const [key, body] of expected)
      expect((await readFile(join(target, ...key.split("/")))).equals(body)).toBe(true);
    const second = await syncDirectory({ source: dir, destination: target, statePath: false });
    expect(second.transferred).toBe(0);
  });

  test("incomplete multipart uploads a killed run left under the prefix are aborted by the next run, which says how many", async () => {
    const { dir } = await makeLibrary("stale");
    const { url, client, bucket: name } = await bucket("ps-stale");
    // What kill -9 during a multipart upload leaves behind: uploads that were created and never completed.
    const create = (key: string) => client.send(new CreateMultipartUploadCommand({ Bucket: name, Key: key }));
    await create("Lightroom/Catalog.lrcat");
    await create("Lightroom/2024/IMG 0002.CR2");
    await create("Lightroom-old/Catalog.lrcat"); // outside the prefix
    await create("Lightroom/Catalog Previews.lrdata/x.lrprev"); // excluded
    const options = {
      source: dir,
      destination: `${url}Lightroom`,
      statePath: false as const,
      ...testClientOptions(server),
    };
    // moto reports every upload as initiated in 2010, so the one-day age rule cannot be seen here (the
    // shared engine's unit test covers it); this checks which uploads are aborted, and the count.
    const summary = await syncDirectory({ ...options, staleUploadAgeMs: 0 });
    expect(summary.multipartUploadsAborted).toBe(2);
    const left = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
    expect((left.Uploads ?? []).map((u) => u.Key).sort()).toEqual([
      "Lightroom-old/Catalog.lrcat",
      "Lightroom/Catalog Previews.lrdata/x.lrprev",
    ]);
  });
});

async function listMultipart(client: S3Client, bucketName: string): Promise<number> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucketName }));
  return out.Uploads?.length ?? 0;
}
