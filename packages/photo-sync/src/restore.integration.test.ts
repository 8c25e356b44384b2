import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { isPartialDownload, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isPhotoSyncError, restoreDirectory, syncDirectory } from "./index.ts";

let server: TestServer;
let proxy: FaultProxy;
let work: string;

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy({ target: server.endpoint, seed: 12 });
  work = await mkdtemp(join(tmpdir(), "photo-restore-it-"));
});
afterAll(async () => {
  await proxy.stop();
  await rm(work, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const NFD_NAME = "Cafe\u0301 Mu\u0308nchen.jpg";

/** Every file under `root` (relative POSIX path → absolute path), partial files included. */
async function walk(root: string, rel = "", out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) await walk(root, path, out);
    else out.set(path, join(root, path));
  }
  return out;
}

async function makeTree(tag: string, smallFiles: number): Promise<string> {
  const dir = await mkdtemp(join(work, `${tag}-`));
  const put = async (rel: string, body: Buffer, mtime: Date) => {
    const path = join(dir, ...rel.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    await utimes(path, mtime, mtime);
  };
  await put("Catalog.lrcat", randomBytes(3000), new Date("2023-01-02T03:04:05.678Z"));
  await put(`2024/Travel/${NFD_NAME}`, randomBytes(2048), new Date("2024-06-01T10:00:00.001Z"));
  await put("2025/deep/er/still deeper/photo (1).jpg", randomBytes(1024), new Date("2025-02-03T04:05:06Z"));
  await put("empty.txt", Buffer.alloc(0), new Date("2020-01-01T00:00:00Z"));
  await put("raw/big.dng", randomBytes(40 * MiB), new Date("2024-12-24T18:00:00.250Z"));
  for (let i = 0; i < smallFiles; i++) {
    await put(`small/${String(i).padStart(3, "0")}.jpg`, randomBytes(4096 + i), new Date(1_700_000_000_000 + i * 1000));
  }
  return dir;
}

/** Same names (NFC), bytes and mtimes (ms). */
async function expectSameTree(actual: string, expected: string): Promise<void> {
  const want = await walk(expected);
  const got = await walk(actual);
  expect([...got.keys()].sort()).toEqual([...want.keys()].map((k) => k.normalize("NFC")).sort());
  for (const [rel, path] of want) {
    const other = join(actual, rel.normalize("NFC"));
    expect((await readFile(other)).equals(await readFile(path)), rel).toBe(true);
    expect(Math.round((await stat(other)).mtimeMs), rel).toBe(Math.round((await stat(path)).mtimeMs));
  }
}

describe("photo-sync restore against the S3 server", () => {
  test("a backup restores into an empty folder with identical bytes and mtimes (NFD names, empty, 3 MiB one-PUT and 40 MiB multipart files)", async () => {
    const source = await makeTree("roundtrip", 5);
    const medium = randomBytes(3 * MiB + 1);
    await writeFile(join(source, "raw", "medium.dng"), medium);
    const { url } = await createTestBucket(server, "ps-restore");
    const backup = await syncDirectory({
      source,
      destination: url,
      statePath: false,
      multipartThresholdBytes: 16 * MiB,
      ...testClientOptions(server),
    });
    expect(backup.failed).toBe(0);
    // The 3 MiB file went up in one PUT streamed from the file, with the SHA-256 the store hashed on its way.
    const stored = openObjectStore(url, testClientOptions(server));
    const info = await stored.head("raw/medium.dng");
    expect(info?.etag).toBe(`"${createHash("md5").update(medium).digest("hex")}"`);
    expect(info?.metadata["s3kit-sha256"]).toBe(createHash("sha256").update(medium).digest("hex"));
    expect((await stored.head("raw/big.dng"))?.etag).toMatch(/-5"$/);
    await stored.close();
    const target = join(work, "roundtrip-restored");
    const options = { source: url, destination: target, statePath: false as const, ...testClientOptions(server) };
    const dry = await restoreDirectory({ ...options, dryRun: true });
    expect(dry.plan?.transfers).toHaveLength(11);
    await expect(stat(target)).rejects.toThrow();
    const summary = await restoreDirectory(options);
    expect(summary.failed).toBe(0);
    expect(summary.transferred).toBe(11);
    expect(summary.unverified).toBe(0);
    await expectSameTree(target, source);
    const again = await restoreDirectory(options);
    expect(again.transferred).toBe(0);
    expect(again.skipped).toBe(11);
  });

  test("kill -9 mid-restore, then a re-run converges and leaves no partial file", async () => {
    const source = await makeTree("killed", 120);
    const { url } = await createTestBucket(server, "ps-killed");
    await syncDirectory({ source, destination: url, statePath: false, ...testClientOptions(server) });
    const target = join(work, "killed-restored");
    const statePath = join(work, "killed.state");
    const dist = resolve(dirname(fileURLToPath(import.meta.url)), "../dist/index.js");
    const script = `
      const { restoreDirectory } = await import(${JSON.stringify(dist)});
      await restoreDirectory(JSON.parse(process.env.RESTORE_OPTIONS));
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        ...process.env,
        RESTORE_OPTIONS: JSON.stringify({
          source: url,
          destination: target,
          statePath,
          concurrency: 2,
          ...testClientOptions(server),
        }),
      },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    // Wait until the restore is under way (some files in place), then kill it without warning.
    for (let i = 0; i < 600; i++) {
      const present = await walk(target).catch(() => new Map());
      if ([...present.keys()].filter((k) => k.startsWith("small/") && !isPartialDownload(k)).length >= 10) break;
      await sleep(50);
    }
    child.kill("SIGKILL");
    await exited;
    const before = await walk(target);
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThan(125 + 5); // not finished (and at most a few partial files)
    const summary = await restoreDirectory({
      source: url,
      destination: target,
      statePath,
      ...testClientOptions(server),
    });
    expect(summary.failed).toBe(0);
    expect(summary.skipped).toBeGreaterThan(0);
    await expectSameTree(target, source);
    const after = await walk(target);
    expect([...after.keys()].filter((k) => isPartialDownload(k.split("/").at(-1)!))).toEqual([]);
  });

  test("an object changed behind s3kit's back so it no longer matches its checksum fails and is not written", async () => {
    const source = await makeTree("tampered", 2);
    const { url, client, bucket } = await createTestBucket(server, "ps-tampered");
    await syncDirectory({ source, destination: url, statePath: false, ...testClientOptions(server) });
    const store = openObjectStore(url, testClientOptions(server));
    const info = await store.head("Catalog.lrcat");
    await store.close();
    // Same metadata (its s3kit-sha256 describes the old content), other bytes.
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: "Catalog.lrcat", Body: randomBytes(3000), Metadata: info!.metadata }),
    );
    const target = join(work, "tampered-restored");
    const summary = await restoreDirectory({
      source: url,
      destination: target,
      statePath: false,
      ...testClientOptions(server),
    });
    expect(summary.failures.map((f) => [f.action, f.key, f.code])).toEqual([
      ["download", "Catalog.lrcat", "invalidRemoteData"],
    ]);
    expect(summary.failures[0]?.message).toMatch(/SHA-256/);
    await expect(stat(join(target, "Catalog.lrcat"))).rejects.toThrow();
    expect(summary.transferred).toBe(6);
  });

  test("a restore from a missing prefix with delete never empties the folder: exit-worthy error naming the flag", async () => {
    const { url } = await createTestBucket(server, "ps-restore-typo");
    const target = await makeTree("keep-local", 2);
    const error = await restoreDirectory({
      source: `${url}typo/`,
      destination: target,
      deleteExtraneous: true,
      statePath: false,
      ...testClientOptions(server),
    }).catch((e: unknown) => e);
    expect(isPhotoSyncError(error, "photoSync.emptySource")).toBe(true);
    expect((error as Error).message).toContain("--allow-empty-source");
    expect((await walk(target)).size).toBe(7);
  });

  test("503s, resets, cut bodies and lost answers are retried: the restore ends complete, with no partial file", async () => {
    const source = await makeTree("restore-faults", 30);
    const { url } = await createTestBucket(server, "ps-restore-faults");
    await syncDirectory({ source, destination: url, statePath: false, ...testClientOptions(server) });
    const target = join(work, "restore-faults-restored");
    proxy.setFaults([
      // Each kind at least once for sure (the first matching rule applies), then more at random.
      { match: { method: "GET" }, times: 1, action: { type: "slowDown" } },
      { match: { method: "GET" }, times: 2, action: { type: "resetMidBody" } },
      { match: { method: "GET" }, times: 2, action: { type: "reset" } },
      { match: { method: "GET" }, times: 1, action: { type: "internalError" } },
      { match: { method: "GET" }, times: 1, action: { type: "dropResponse" } },
      { match: { method: "GET" }, probability: 0.15, action: { type: "resetMidBody" } },
      { match: { method: "GET" }, probability: 0.1, action: { type: "slowDown" } },
    ]);
    const before = proxy.requests.length;
    try {
      const summary = await restoreDirectory({
        source: url,
        destination: target,
        statePath: false,
        attempts: 8,
        ...testClientOptions(server, proxy.endpoint),
      });
      expect(summary.failed, JSON.stringify(summary.failures)).toBe(0);
    } finally {
      proxy.setFaults([]);
    }
    const applied = new Set(proxy.requests.slice(before).map((r) => r.fault));
    for (const fault of ["slowDown", "resetMidBody", "reset", "internalError", "dropResponse"]) {
      expect(applied.has(fault as never), fault).toBe(true);
    }
    await expectSameTree(target, source);
  });
});
