// One suite of sync scenarios, run against every kind of remote (file:// in the unit tests, S3 in the
// integration tests), as the object-store conformance suite is in @toolkit/shared.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OpenObjectStoreOptions, openObjectStore } from "@toolkit/shared";
import { describe, expect, it } from "vitest";
import { isKvError, type KvError } from "../errors.ts";
import { openKvGroup } from "../group.ts";
import { type OpenKvOptions, openKv } from "../kv-store.ts";
import { MANIFEST_KEY, type Manifest, parseFooter, SEGMENTS_PREFIX } from "../remote-format.ts";

export interface SuiteRemote {
  /** A fresh, empty remote location. */
  url: string;
  remoteOptions?: OpenObjectStoreOptions;
}

export function localPath(name: string): string {
  return join(mkdtempSync(join(tmpdir(), "kv-test-")), `${name}.db`);
}

export function defineSyncSuite(name: string, fresh: () => Promise<SuiteRemote>): void {
  describe(`sync on ${name}`, () => {
    async function pair(options: Partial<OpenKvOptions> = {}) {
      const remote = await fresh();
      const base = { remote: remote.url, ...(remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {}) };
      const a = await openKv({ path: localPath("a"), ...base, ...options });
      const b = await openKv({ path: localPath("b"), ...base, ...options });
      return { a, b, remote, base };
    }

    /** Keys of the segment objects that exist under the remote (listed, not read from the manifest). */
    async function segmentObjects(remote: SuiteRemote): Promise<string[]> {
      const store = openObjectStore(remote.url, remote.remoteOptions ?? {});
      try {
        const keys: string[] = [];
        for await (const entry of store.list({ prefix: SEGMENTS_PREFIX }))
          if (entry.kind === "object") keys.push(entry.key);
        return keys.sort();
      } finally {
        await store.close();
      }
    }

    async function readManifestOf(remote: SuiteRemote): Promise<Manifest> {
      const store = openObjectStore(remote.url, remote.remoteOptions ?? {});
      try {
        return JSON.parse(Buffer.from(await store.getBytes(MANIFEST_KEY)).toString("utf8")) as Manifest;
      } finally {
        await store.close();
      }
    }

    it("a value written on A reaches B; deletes propagate", async () => {
      const { a, b } = await pair();
      await a.setMany([
        ["x", { n: 1 }],
        ["y", [1, 2]],
        ["z", "zed"],
      ]);
      const pushed = await a.push();
      expect(pushed).toMatchObject({ pushed: 3, deleted: 0, conflicts: [] });
      const pulled = await b.pull();
      expect(pulled.updated).toBe(3);
      expect(await b.get("x")).toEqual({ n: 1 });
      expect(Object.fromEntries(await b.getMany(["y", "z", "nope"]))).toEqual({ y: [1, 2], z: "zed" });
      expect(await b.size()).toBe(3);
      expect(await a.delete("y")).toBe(true);
      expect(await a.changes()).toEqual({ added: [], modified: [], deleted: ["y"] });
      expect(await a.push()).toMatchObject({ pushed: 0, deleted: 1 });
      expect(await b.pull()).toMatchObject({ deleted: 1 });
      expect(await b.has("y")).toBe(false);
      expect(await b.get("y")).toBeUndefined();
      expect([...(await collect(b.keys()))]).toEqual(["x", "z"]);
      expect(await a.changes()).toEqual({ added: [], modified: [], deleted: [] });
      await a.close();
      await b.close();
    });

    it("concurrent pushes of different keys from A and B both land", async () => {
      const { a, b, base } = await pair();
      await a.set("seed", 0);
      await a.push();
      await b.pull();
      await a.set("from-a", "A");
      await b.set("from-b", "B");
      const [ra, rb] = await Promise.all([a.push(), b.push()]);
      expect(ra.pushed + rb.pushed).toBe(2);
      // Both swapped against the same manifest ETag, so one lost the race (412) and rebased: more than 2 + 2.
      expect(ra.requests + rb.requests).toBeGreaterThan(4);
      const c = await openKv({ path: localPath("c"), ...base });
      expect(Object.fromEntries(await collect(c.entries()))).toEqual({ seed: 0, "from-a": "A", "from-b": "B" });
      for (const db of [a, b, c]) await db.close();
    });

    it("many racing writers on one remote lose nothing", async () => {
      const remote = await fresh();
      const base = { remote: remote.url, ...(remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {}) };
      const dbs = await Promise.all([0, 1, 2, 3].map((i) => openKv({ path: localPath(`w${i}`), ...base })));
      await Promise.all(dbs.map((db, i) => db.setMany([[`k${i}`, i]])));
      await Promise.all(dbs.map((db) => db.push()));
      const check = await openKv({ path: localPath("check"), ...base, flag: "r" });
      expect(Object.fromEntries(await collect(check.entries()))).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3 });
      for (const db of [...dbs, check]) await db.close();
    });

    it("the same key on both sides follows onConflict", async () => {
      const { a, b } = await pair();
      await a.set("k", "base");
      await a.push();
      await b.pull();
      await a.set("k", "from-a", { timestamp: Date.now() + 60_000 });
      await b.set("k", "from-b");
      await a.push();
      const newest = await b.push(); // default "newest": A's write is newer
      expect(newest.conflicts).toEqual([expect.objectContaining({ key: "k", winner: "remote" })]);
      expect(await b.get("k")).toBe("from-a");
      expect(await b.changes()).toEqual({ added: [], modified: [], deleted: [] });

      await a.set("k", "a2");
      await a.push();
      await b.set("k", "b2");
      const local = await b.push({ onConflict: "local" });
      expect(local.conflicts).toEqual([expect.objectContaining({ key: "k", winner: "local" })]);
      await a.pull();
      expect(await a.get("k")).toBe("b2");

      await a.set("k", "a3");
      await a.push();
      await b.set("k", "b3");
      await b.set("other", 1);
      const error = await b.push({ onConflict: "error" }).catch((e: unknown) => e);
      expect(isKvError(error, "kv.conflict")).toBe(true);
      expect((error as KvError).keys).toEqual(["k"]);
      expect((error as KvError).message).toContain('"k"');
      expect(await b.get("k")).toBe("b3"); // nothing lost locally
      const remoteWins = await b.pull({ onConflict: "remote" });
      expect(remoteWins.conflicts).toEqual([expect.objectContaining({ key: "k", winner: "remote" })]);
      expect(await b.get("k")).toBe("a3");
      await b.push();
      await a.pull();
      expect(await a.get("other")).toBe(1);
      await a.close();
      await b.close();
    });

    it("a read of a remote-only key fetches just that value, and keeps it", async () => {
      const { a, b } = await pair();
      await a.setMany(Array.from({ length: 20 }, (_, i) => [`key${i}`, { i, pad: "x".repeat(100) }] as const));
      await a.push();
      await b.pull();
      expect(await b.get("key7")).toEqual({ i: 7, pad: "x".repeat(100) });
      await b.close();
      // Offline, the fetched value is still there and the others are not.
      const offline = await openKv({ path: b.path, remote: a.remote, offline: true });
      expect(await offline.get("key7")).toEqual({ i: 7, pad: "x".repeat(100) });
      await expect(offline.get("key8")).rejects.toMatchObject({ code: "kv.offline" });
      await expect(offline.push()).rejects.toMatchObject({ code: "kv.offline" });
      await offline.close();
      await a.close();
    });

    it("a flipped byte in a segment fails that key with kv.integrity, never a wrong value", async () => {
      const { a, b, remote } = await pair();
      await a.setMany([
        ["good", "fine value"],
        ["bad", "this one gets damaged"],
      ]);
      await a.push();
      const manifest = await readManifestOf(remote);
      const segment = manifest.segments[0]!;
      const store = openObjectStore(remote.url, remote.remoteOptions ?? {});
      const body = Buffer.from(await store.getBytes(segment.key));
      const entries = parseFooter(body.subarray(segment.indexOffset), segment.key);
      const bad = entries.find((e) => e.key === "bad")!;
      body[bad.offset + 3]! ^= 0xff;
      await store.put(segment.key, body);
      await store.close();
      await b.pull();
      const error = await b.get("bad").catch((e: unknown) => e);
      expect(isKvError(error, "kv.integrity")).toBe(true);
      expect((error as KvError).message).toContain('"bad"');
      expect(await b.get("good")).toBe("fine value");
      await a.close();
      await b.close();
    });

    it("compaction merges segments, keeps values, and a stale replica still converges", async () => {
      const { a, b } = await pair();
      for (let round = 0; round < 3; round++) {
        await a.setMany([
          [`r${round}`, round],
          ["shared", round],
        ]);
        await a.push();
      }
      await b.pull();
      expect(await b.get("r0")).toBe(0); // b keeps r0 locally
      await a.delete("r1");
      await a.push();
      const result = await a.compact({ graceMs: 0 });
      expect(result).toMatchObject({ segmentsBefore: 4, segmentsAfter: 1, liveKeys: 3 });
      expect(result.droppedEntries).toBe(4); // 2 old "shared", r1 and its tombstone
      expect(result.deletedObjects).toBe(4);
      expect(await a.get("shared")).toBe(2);
      const pulled = await b.pull();
      expect(pulled.deleted).toBe(1);
      expect(Object.fromEntries(await collect(b.entries()))).toEqual({ r0: 0, r2: 2, shared: 2 });
      await a.close();
      await b.close();
    });

    it("compaction keeps superseded segments for the grace period; a reader that finds one gone re-pulls", async () => {
      const { a, b, remote } = await pair();
      for (let round = 0; round < 3; round++) {
        await a.setMany([[`r${round}`, { round, pad: "x".repeat(50) }]]);
        await a.push();
      }
      await b.pull(); // b knows the index only: every value still points at one of the three old segments
      const before = await segmentObjects(remote);
      expect(before).toHaveLength(3);
      const kept = await a.compact(); // default grace period (1 hour)
      expect(kept).toMatchObject({ segmentsBefore: 3, segmentsAfter: 1, deletedObjects: 0 });
      const retired = (await readManifestOf(remote)).retired.map((r) => r.key).sort();
      expect(retired).toEqual(before);
      expect(await segmentObjects(remote)).toHaveLength(4);
      // b, mid-way (it has not pulled since), still reads from the old segments.
      expect(await b.get("r0")).toEqual({ round: 0, pad: "x".repeat(50) });
      // Once the grace period is over the retired segments go; b finds r1's segment missing, pulls once, retries.
      const swept = await a.compact({ graceMs: 0 });
      expect(swept.deletedObjects).toBe(3);
      expect(await segmentObjects(remote)).toHaveLength(1);
      expect(await b.get("r1")).toEqual({ round: 1, pad: "x".repeat(50) });
      expect(Object.fromEntries(await b.getMany(["r0", "r2"]))).toEqual({
        r0: { round: 0, pad: "x".repeat(50) },
        r2: { round: 2, pad: "x".repeat(50) },
      });
      await a.close();
      await b.close();
    });

    it("a compaction racing a push loses neither", async () => {
      const { a, b, remote } = await pair();
      for (let round = 0; round < 3; round++) {
        await a.setMany([
          [`r${round}`, round],
          ["shared", round],
        ]);
        await a.push();
      }
      await b.pull();
      await b.setMany([
        ["shared", "from-b"],
        ["only-b", true],
      ]);
      await b.delete("r0");
      const [compacted, pushed] = await Promise.all([a.compact({ graceMs: 0 }), b.push({ onConflict: "error" })]);
      expect(pushed).toMatchObject({ pushed: 2, deleted: 1, conflicts: [] });
      expect(compacted.segmentsBefore).toBeGreaterThanOrEqual(3);
      const expected = { r1: 1, r2: 2, shared: "from-b", "only-b": true };
      const reader = await openKv({ path: localPath("race-reader"), remote: remote.url, ...pick(remote), flag: "r" });
      expect(Object.fromEntries(await collect(reader.entries()))).toEqual(expected);
      await reader.close();
      await a.pull();
      expect(Object.fromEntries(await collect(a.entries()))).toEqual(expected);
      expect(Object.fromEntries(await collect(b.entries()))).toEqual(expected);
      // The other order: the compaction's swap lands first, b's push loses the race and rebases onto it.
      await a.setMany([["r3", 3]]);
      await a.push();
      await b.setMany([["shared", "b-again"]]);
      await b.delete("r1");
      await a.compact({ graceMs: 0 });
      expect(await b.push({ onConflict: "error" })).toMatchObject({ pushed: 1, deleted: 1, conflicts: [] });
      const after = { r2: 2, r3: 3, shared: "b-again", "only-b": true };
      const second = await openKv({ path: localPath("race-reader2"), remote: remote.url, ...pick(remote), flag: "r" });
      expect(Object.fromEntries(await collect(second.entries()))).toEqual(after);
      await second.close();
      expect(Object.fromEntries(await collect(b.entries()))).toEqual(after);
      await a.close();
      await b.close();
    });

    it("bad input is one clear error each and loses nothing", async () => {
      const { a, b, remote } = await pair();
      await a.set("good", "kept");
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expect(a.set("", 1)).rejects.toMatchObject({ code: "kv.invalidKey" });
      await expect(a.set("k".repeat(1025), 1)).rejects.toMatchObject({ code: "kv.invalidKey" });
      await expect(
        a.setMany([
          ["fine", 1],
          ["cycle", circular],
        ]),
      ).rejects.toMatchObject({
        code: "kv.invalidValue",
        keys: ["cycle"],
      });
      await expect(a.set("good", 10n)).rejects.toMatchObject({ code: "kv.invalidValue", keys: ["good"] });
      expect(await a.changes()).toEqual({ added: ["good"], modified: [], deleted: [] });
      expect(await a.push()).toMatchObject({ pushed: 1 });
      await b.pull();
      expect(Object.fromEntries(await collect(b.entries()))).toEqual({ good: "kept" });
      await b.close();
      // A damaged local replica is refused and left as it is; the remote is untouched.
      const bytes = readFileSync(b.path);
      bytes.fill(0x5a, 0, 100); // overwrite the SQLite header
      writeFileSync(b.path, bytes);
      const opened = openKv({ path: b.path, remote: a.remote, ...pick(remote) });
      await expect(opened).rejects.toMatchObject({ code: "kv.corruptLocal" });
      expect(readFileSync(b.path).equals(bytes)).toBe(true);
      const fresh = await openKv({ path: localPath("fresh"), remote: remote.url, ...pick(remote), flag: "r" });
      expect(await fresh.get("good")).toBe("kept");
      await fresh.close();
      await a.close();
    });

    it("flag n replaces the remote at the next push; other replicas follow", async () => {
      const { a, b, base } = await pair();
      await a.setMany([
        ["old1", 1],
        ["old2", 2],
      ]);
      await a.push();
      await b.pull();
      await a.close();
      const n = await openKv({ path: localPath("n"), ...base, flag: "n" });
      expect(await n.size()).toBe(0);
      await n.set("new", 3);
      expect(await n.push()).toMatchObject({ pushed: 1 });
      await b.pull();
      expect(Object.fromEntries(await collect(b.entries()))).toEqual({ new: 3 });
      await n.close();
      await b.close();
    });

    it("codec mismatch on open is a clear error", async () => {
      const { a, base } = await pair();
      await a.set("k", 1);
      await a.push();
      const error = await openKv({ path: localPath("s"), ...base, codec: "string" }).catch((e: unknown) => e);
      expect(isKvError(error, "kv.codecMismatch")).toBe(true);
      expect((error as Error).message).toContain("json");
      await a.close();
    });

    it("flags r and w need an existing database; r refuses writes", async () => {
      const remote = await fresh();
      const base = { remote: remote.url, ...(remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {}) };
      await expect(openKv({ path: localPath("w"), ...base, flag: "w" })).rejects.toMatchObject({
        code: "kv.notFound",
      });
      await expect(openKv({ path: localPath("r"), ...base, flag: "r" })).rejects.toMatchObject({
        code: "kv.notFound",
      });
      const c = await openKv({ path: localPath("c"), ...base, flag: "c" });
      await c.set("a", 1);
      await c.push();
      const r = await openKv({ path: localPath("r2"), ...base, flag: "r" });
      expect(await r.get("a")).toBe(1);
      await expect(r.set("a", 2)).rejects.toMatchObject({ code: "kv.readOnly" });
      await expect(r.delete("a")).rejects.toMatchObject({ code: "kv.readOnly" });
      const w = await openKv({ path: localPath("w2"), ...base, flag: "w" });
      expect(await w.get("a")).toBe(1);
      for (const db of [c, r, w]) await db.close();
    });

    it("a group holds validated remote descriptors and opens its members", async () => {
      const remote = await fresh();
      const base = { remote: remote.url, ...(remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {}) };
      const member = await openKv({ path: localPath("m"), ...base });
      await member.set("hello", "world");
      await member.push();
      await member.close();
      const group = await openKvGroup({ path: localPath("group") });
      const key = await group.add(remote.url, { userMeta: { owner: "ops" } });
      expect((await group.get(key))?.userMeta).toEqual({ owner: "ops" });
      await expect(group.set("bad", { location: "http://x" } as never)).rejects.toMatchObject({
        code: "kv.invalidValue",
      });
      const opened = await group.openMember(key, {
        path: localPath("m2"),
        ...(remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {}),
      });
      expect(await opened.get("hello")).toBe("world");
      await opened.close();
      await group.close();
    });
  });
}

function pick(remote: SuiteRemote): { remoteOptions?: OpenObjectStoreOptions } {
  return remote.remoteOptions ? { remoteOptions: remote.remoteOptions } : {};
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
