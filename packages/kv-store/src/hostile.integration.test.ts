// The hostile-input kit (@toolkit/shared/testing) against kv-store's readers, on moto and the file:// store
// (issue 13). A small database is pushed to a remote, then (1) the kit's crafted objects are planted in the same
// prefix: a second replica must ignore them and read the data back; (2) the manifest is overwritten with crafted
// JSON (a huge / negative segment size, a segment key that is a path, a segment whose footer is damaged): the
// replica must fail with `kv.integrity` naming the object. In both, nothing outside the replica's folder changes.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type OpenObjectStoreOptions, openObjectStore } from "@toolkit/shared";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  HOSTILE_SECRET,
  type HostileSandbox,
  seedHostileStore,
  snapshotTree,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isKvError } from "./errors.ts";
import { openKv } from "./kv-store.ts";
import { MANIFEST_KEY, type Manifest } from "./remote-format.ts";
import { collect } from "./testing/sync-suite.ts";

let server: TestServer;
const sandboxes: HostileSandbox[] = [];

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.remove()));
});

const DATA: Record<string, unknown> = {
  alpha: { n: 1 },
  beta: "two",
  "nested/key": [3, 3, 3],
  "../not-a-path": "a key is never a path",
};

describe.each(["s3", "file"] as const)("kv-store against the hostile-input kit (%s)", (kind) => {
  let box: HostileSandbox;
  let remote: string;
  let remoteOptions: OpenObjectStoreOptions;
  let goodManifest: Uint8Array;
  let replicas = 0;
  /** A fresh local file inside the target folder: the only place a replica may write. */
  const replicaPath = () => join(box.target, `replica-${replicas++}.db`);

  beforeAll(async () => {
    box = await createHostileSandbox(`kv-${kind}`);
    sandboxes.push(box);
    if (kind === "s3") {
      const { url, client } = await createTestBucket(server, "hostile-kv");
      client.destroy();
      remote = `${url}hostile/db/`;
      remoteOptions = { ...testClientOptions(server), maxAttempts: 2 };
    } else {
      remote = pathToFileURL(box.store).href;
      remoteOptions = {};
    }
    const writer = await openKv({ path: replicaPath(), remote, remoteOptions });
    await writer.setMany(Object.entries(DATA));
    await writer.push();
    await writer.close();
    await seedHostileStore({
      location: remote,
      outsideDir: box.outside,
      ...(kind === "s3" ? { clientOptions: testClientOptions(server) } : {}),
      bombBytes: 1024 * 1024,
    });
    const raw = openObjectStore(remote, remoteOptions);
    goodManifest = await raw.getBytes(MANIFEST_KEY);
    await raw.close();
  });

  /** Snapshot everything but the target folder, run `fn`, and check nothing there changed. */
  async function untouched(fn: () => Promise<void>): Promise<void> {
    const before = await snapshotTree(box.root, { exclude: ["target"] });
    await fn();
    expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
    expect(await readFile(join(box.outside, "secret.txt"), "utf8")).toBe(HOSTILE_SECRET);
    // Only SQLite files of the replicas, directly in the target folder.
    for (const name of await readdir(box.target, { recursive: true })) {
      expect(String(name)).toMatch(/^replica-\d+\.db(-wal|-shm|-journal)?$/);
    }
  }

  async function withManifest(edit: (m: Manifest) => void): Promise<void> {
    const manifest = JSON.parse(Buffer.from(goodManifest).toString("utf8")) as Manifest;
    edit(manifest);
    const raw = openObjectStore(remote, remoteOptions);
    await raw.put(MANIFEST_KEY, Buffer.from(JSON.stringify(manifest)));
    await raw.close();
  }

  /** Open a fresh replica, pull, list and get: the first error (or undefined). */
  async function readAll(): Promise<unknown> {
    try {
      const kv = await openKv({ path: replicaPath(), remote, remoteOptions });
      try {
        await kv.pull();
        for (const key of await collect(kv.keys())) await kv.get(key);
      } finally {
        await kv.close();
      }
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it("ignores the crafted stray objects beside the database: the data reads back", async () => {
    await untouched(async () => {
      const kv = await openKv({ path: replicaPath(), remote, remoteOptions });
      await kv.pull();
      expect((await collect(kv.keys())).sort()).toEqual(Object.keys(DATA).sort());
      for (const [key, value] of Object.entries(DATA)) expect(await kv.get(key)).toEqual(value);
      expect(await kv.get("ok/plain.txt")).toBeUndefined();
      await kv.close();
    });
  });

  const crafted: [string, (m: Manifest) => void, RegExp][] = [
    [
      "a huge segment size",
      (m) => {
        m.segments[0]!.size = Number.MAX_SAFE_INTEGER;
      },
      /segments\/.*\.kvseg|size/,
    ],
    [
      "a size beyond 2^53",
      (m) => {
        m.segments[0]!.size = 1e300;
      },
      new RegExp(MANIFEST_KEY.replace(".", "\\.")),
    ],
    [
      "a negative segment size",
      (m) => {
        m.segments[0]!.size = -1;
      },
      new RegExp(MANIFEST_KEY.replace(".", "\\.")),
    ],
    [
      "a segment key that climbs out",
      (m) => {
        m.segments[0]!.key = "segments/../../x";
      },
      /kv-manifest\.json is malformed at `segments\.0\.key`/,
    ],
    [
      "a segment key that names a planted object",
      (m) => {
        m.segments[0]!.key = "segments/../ok/plain.txt";
      },
      /kv-manifest\.json is malformed at `segments\.0\.key`/,
    ],
    [
      "a segment index offset past the end",
      (m) => {
        m.segments[0]!.indexOffset = m.segments[0]!.size + 10;
      },
      /kv-manifest\.json is malformed at `segments\.0\.indexOffset`/,
    ],
  ];

  it.each(crafted)("a manifest with %s fails with kv.integrity naming the object", async (_what, edit, names) => {
    await withManifest(edit);
    await untouched(async () => {
      const error = await readAll();
      expect(isKvError(error, "kv.integrity"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(names);
      expect((error as Error).message).not.toMatch(/\n/);
    });
    await withManifest(() => {});
  });

  it("a segment with a damaged footer fails with kv.integrity naming the segment", async () => {
    const m = JSON.parse(Buffer.from(goodManifest).toString("utf8")) as Manifest;
    const segment = m.segments[0]!;
    const raw = openObjectStore(remote, remoteOptions);
    const body = Buffer.from(await raw.getBytes(segment.key));
    body[body.length - 10] = body[body.length - 10]! ^ 0xff; // the index CRC in the trailer
    const damagedKey = "segments/01DAMAGEDFOOTER0000000000.kvseg";
    await raw.put(damagedKey, body);
    await raw.close();
    await withManifest((manifest) => {
      manifest.segments[0] = { ...segment, id: "01DAMAGEDFOOTER0000000000", key: damagedKey };
    });
    await untouched(async () => {
      const error = await readAll();
      expect(isKvError(error, "kv.integrity"), String(error)).toBe(true);
      expect((error as Error).message).toContain(damagedKey);
      expect((error as Error).message).toMatch(/damaged footer/);
    });
    await withManifest(() => {});
    // The good manifest back: a fresh replica reads everything again.
    expect(await readAll()).toBeUndefined();
  });
});
