import { S3Client } from "@aws-sdk/client-s3";
import { openObjectStore } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isKvError } from "./errors.ts";
import { openKv } from "./kv-store.ts";
import { MANIFEST_KEY, SEGMENTS_PREFIX } from "./remote-format.ts";
import { collect, defineSyncSuite, localPath } from "./testing/sync-suite.ts";

type Server = Awaited<ReturnType<typeof startS3Server>>;
let server: Server;

beforeAll(async () => {
  server = await startS3Server();
});

defineSyncSuite("S3", async () => {
  const { url } = await createTestBucket(server, "kv-suite");
  return { url: `${url}dbs/notes`, remoteOptions: { ...testClientOptions(server), maxAttempts: 3 } };
});

describe("requests per push and pull, counted at the proxy", () => {
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: server.endpoint });
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it("a push costs the same few requests for 10 keys as for 500", async () => {
    const { url } = await createTestBucket(server, "kv-count");
    const remoteOptions = { ...testClientOptions(server, proxy.endpoint), maxAttempts: 1 };
    const a = await openKv({ path: localPath("a"), remote: `${url}db`, remoteOptions });
    const b = await openKv({ path: localPath("b"), remote: `${url}db`, remoteOptions });
    const counts: Record<string, string[]> = {};
    const measure = async (label: string, fn: () => Promise<unknown>) => {
      const before = proxy.requests.length;
      await fn();
      counts[label] = proxy.requests.slice(before).map((r) => `${r.method} ${r.status}`);
    };
    await a.setMany(Array.from({ length: 10 }, (_, i) => [`small${i}`, i] as const));
    await measure("first push, 10 keys", () => a.push());
    await a.setMany(Array.from({ length: 500 }, (_, i) => [`big${i}`, { i, text: "v".repeat(200) }] as const));
    await measure("push, 500 keys", () => a.push());
    await a.setMany(Array.from({ length: 10 }, (_, i) => [`small${i}`, -i] as const));
    await measure("push, 10 keys", () => a.push());
    await measure("pull into an empty replica", () => b.pull());
    await measure("pull, nothing new", () => b.pull());
    await a.set("small3", "changed");
    await a.delete("big7");
    await a.push();
    await measure("pull after 2 changes", () => b.pull());
    await measure("lazy get of one value", () => b.get("big42"));

    // The first push learns there is no manifest (404), uploads one segment and creates the manifest.
    expect(counts["first push, 10 keys"]).toEqual(["GET 404", "PUT 200", "PUT 200"]);
    // Later pushes know the manifest ETag: one segment PUT, one conditional manifest PUT, whatever N is.
    expect(counts["push, 500 keys"]).toEqual(["PUT 200", "PUT 200"]);
    expect(counts["push, 10 keys"]).toEqual(["PUT 200", "PUT 200"]);
    // A pull reads the manifest and one footer per unseen segment (3 here), never a value.
    expect(counts["pull into an empty replica"]).toEqual(["GET 200", "GET 206", "GET 206", "GET 206"]);
    expect(counts["pull, nothing new"]).toEqual(["GET 304"]);
    expect(counts["pull after 2 changes"]).toEqual(["GET 200", "GET 206"]);
    expect(counts["lazy get of one value"]).toEqual(["GET 206"]);
    expect(await b.get("small3")).toBe("changed");
    expect(await b.has("big7")).toBe(false);
    expect(await b.size()).toBe(510 - 1);
    console.info("kv-store requests per operation:", JSON.stringify(counts));
    await a.close();
    await b.close();
  });
});

describe("pushes interrupted by faults", () => {
  it("leave the remote at the old or the new state, and a re-run converges", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint, seed: 7 });
    const { url } = await createTestBucket(server, "kv-faults");
    const remote = `${url}db`;
    const direct = { ...testClientOptions(server), maxAttempts: 2 };
    const writer = await openKv({
      path: localPath("writer"),
      remote,
      remoteOptions: { ...testClientOptions(server, proxy.endpoint), maxAttempts: 1 },
    });
    let expected: Record<string, number> = {};
    const actions = ["reset", "internalError", "slowDown", "resetMidBody", "dropResponse"] as const;
    let failures = 0;
    for (let round = 0; round < 12; round++) {
      const before = { ...expected };
      const after = { ...expected, [`k${round}`]: round, shared: round };
      if (round % 3 === 2) delete after[`k${round - 1}`];
      await writer.setMany(Object.entries(after).filter(([k, v]) => before[k] !== v));
      if (round % 3 === 2) await writer.delete(`k${round - 1}`);
      proxy.setFaults([
        {
          match: { method: round % 2 === 0 ? "PUT" : undefined },
          probability: 0.4,
          action: { type: actions[round % actions.length]! },
        },
      ]);
      const outcome = await writer.push().then(
        () => "ok",
        (error: unknown) => error,
      );
      if (outcome !== "ok") {
        failures++;
        expect(isKvError(outcome, "kv.remote"), String(outcome)).toBe(true);
      }
      // A fresh reader, straight to the server, sees exactly the old or the new state.
      const reader = await openKv({ path: localPath(`reader${round}`), remote, remoteOptions: direct });
      const seen = Object.fromEntries(await collect(reader.entries()));
      await reader.close();
      expect([JSON.stringify(sorted(before)), JSON.stringify(sorted(after))]).toContain(JSON.stringify(sorted(seen)));
      // Re-running without faults converges.
      proxy.setFaults([]);
      if (outcome !== "ok") await writer.push();
      expected = after;
    }
    expect(failures).toBeGreaterThan(0);
    const hit = new Set(proxy.requests.map((r) => r.fault).filter((f) => f !== undefined));
    expect([...hit].sort()).toEqual([...actions].sort());
    const final = await openKv({ path: localPath("final"), remote, remoteOptions: direct, flag: "r" });
    expect(sorted(Object.fromEntries(await collect(final.entries())))).toEqual(sorted(expected));
    expect(await writer.changes()).toEqual({ added: [], modified: [], deleted: [] });
    await final.close();
    await writer.close();
    await proxy.stop();
  });
});

describe("a manifest write whose answer is lost (the server commits, the client never hears)", () => {
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: server.endpoint });
  });
  afterAll(async () => {
    await proxy.stop();
  });
  const loseNextManifestAnswer = () =>
    proxy.setFaults([
      { match: { method: "PUT", path: /kv-manifest\.json/ }, times: 1, action: { type: "dropResponse" } },
    ]);
  async function segmentObjects(url: string): Promise<string[]> {
    const store = openObjectStore(url, testClientOptions(server));
    try {
      const keys: string[] = [];
      for await (const entry of store.list({ prefix: SEGMENTS_PREFIX }))
        if (entry.kind === "object") keys.push(entry.key);
      return keys.sort();
    } finally {
      await store.close();
    }
  }

  it("without SDK retries: push fails, the remote is at the new state, a re-run converges without a false conflict", async () => {
    const { url } = await createTestBucket(server, "kv-lost");
    const remote = `${url}db`;
    const remoteOptions = { ...testClientOptions(server, proxy.endpoint), maxAttempts: 1 };
    await using a = await openKv({ path: localPath("lost-a"), remote, remoteOptions });
    // The very first swap (If-None-Match: *) and a later one (If-Match) both lose their answer.
    await a.set("k", "v1");
    loseNextManifestAnswer();
    await expect(a.push()).rejects.toMatchObject({ code: "kv.remote" });
    expect(proxy.requests.at(-1)).toMatchObject({ method: "PUT", fault: "dropResponse" });
    expect(await a.push({ onConflict: "error" })).toMatchObject({ pushed: 0, conflicts: [] });
    await a.set("k", "v2");
    await a.set("other", 1);
    loseNextManifestAnswer();
    await expect(a.push()).rejects.toMatchObject({ code: "kv.remote" });
    expect(await a.changes()).toEqual({ added: ["other"], modified: ["k"], deleted: [] }); // not known to have landed
    // A reader straight to the server sees the new state, every segment it names is there.
    await using reader = await openKv({ path: localPath("lost-r"), remote, remoteOptions: testClientOptions(server) });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ k: "v2", other: 1 });
    // Re-running recognises its own committed entries: no conflict even with "error", nothing left dirty.
    expect(await a.push({ onConflict: "error" })).toMatchObject({ pushed: 0, deleted: 0, conflicts: [] });
    expect(await a.changes()).toEqual({ added: [], modified: [], deleted: [] });
    // The segments of the lost swaps are the ones the manifest names; the re-runs left no second copy behind.
    const direct = openObjectStore(remote, testClientOptions(server));
    const manifest = JSON.parse(Buffer.from(await direct.getBytes(MANIFEST_KEY)).toString("utf8")) as {
      segments: { key: string }[];
    };
    await direct.close();
    expect(await segmentObjects(remote)).toEqual(manifest.segments.map((s) => s.key).sort());
    expect(manifest.segments).toHaveLength(2);
  });

  it("a key written again after a lost swap is not a conflict with itself, whatever onConflict says", async () => {
    const { url } = await createTestBucket(server, "kv-lost-again");
    const remote = `${url}db`;
    const remoteOptions = { ...testClientOptions(server, proxy.endpoint), maxAttempts: 1 };
    await using a = await openKv({ path: localPath("again-a"), remote, remoteOptions });
    await a.setMany([
      ["k", "v1"],
      ["d", "doomed"],
    ]);
    await a.push();
    await a.set("k", "v2");
    await a.delete("d");
    loseNextManifestAnswer();
    await expect(a.push()).rejects.toMatchObject({ code: "kv.remote" });
    // Written again before the re-run: the landed v2 and the tombstone are this replica's own, older versions.
    await a.set("k", "v3");
    await a.set("d", "back");
    const again = await a.push({ onConflict: "remote" });
    expect(again).toMatchObject({ pushed: 2, deleted: 0, conflicts: [] });
    expect(await a.get("k")).toBe("v3");
    expect(await a.changes()).toEqual({ added: [], modified: [], deleted: [] });
    await using reader = await openKv({ path: localPath("again-r"), remote, remoteOptions: testClientOptions(server) });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ k: "v3", d: "back" });
  });

  it("with SDK retries: the retried swap gets 412, and the push recognises that it had landed", async () => {
    const { url } = await createTestBucket(server, "kv-lost-retry");
    const remote = `${url}db`;
    const remoteOptions = { ...testClientOptions(server, proxy.endpoint), maxAttempts: 3 };
    await using a = await openKv({ path: localPath("retry-a"), remote, remoteOptions });
    await a.set("k", "v1");
    await a.push();
    await a.setMany([
      ["k", "v2"],
      ["new", true],
    ]);
    const before = proxy.requests.length;
    loseNextManifestAnswer();
    const result = await a.push({ onConflict: "error" });
    expect(result).toMatchObject({ pushed: 2, deleted: 0, conflicts: [] });
    const seen = proxy.requests.slice(before).map((r) => `${r.method} ${r.fault ?? r.status}`);
    expect(seen.slice(0, 3)).toEqual(["PUT 200", "PUT dropResponse", "PUT 412"]);
    expect(await a.changes()).toEqual({ added: [], modified: [], deleted: [] });
    await using reader = await openKv({ path: localPath("retry-r"), remote, remoteOptions: testClientOptions(server) });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ k: "v2", new: true });
    expect(await segmentObjects(remote)).toHaveLength(2);
  });
});

describe("bad remotes", () => {
  it("a non-existent bucket is one clear error", async () => {
    const error = await openKv({
      path: localPath("nobucket"),
      remote: "s3://s3kit-no-such-bucket-kv/db",
      remoteOptions: { ...testClientOptions(server), maxAttempts: 1 },
    }).catch((e: unknown) => e);
    expect(isKvError(error, "kv.remote")).toBe(true);
    expect((error as Error).message).toMatch(/s3kit-no-such-bucket-kv.*bucket does not exist/);
  });

  it("an unreachable remote with flag r serves local data offline", async () => {
    const { url } = await createTestBucket(server, "kv-offline");
    const remoteOptions = { ...testClientOptions(server), maxAttempts: 1 };
    const path = localPath("cache");
    const writer = await openKv({ path, remote: `${url}db`, remoteOptions });
    await writer.set("k", "v");
    await writer.push();
    await writer.close();
    const reader = await openKv({
      path,
      remote: `${url}db`,
      flag: "r",
      remoteOptions: { ...remoteOptions, endpoint: "http://127.0.0.1:9" },
    });
    expect(reader.offline).toBe(true);
    expect(await reader.get("k")).toBe("v");
    await reader.close();
  });

  it("a remote that does not answer in time counts as unreachable (flag r: offline; otherwise kv.remote)", async () => {
    const { url } = await createTestBucket(server, "kv-timeout");
    const path = localPath("timeout-cache");
    const writer = await openKv({ path, remote: `${url}db`, remoteOptions: testClientOptions(server) });
    await writer.set("k", "v");
    await writer.push();
    await writer.close();
    // The SDK's socket timeout (TimeoutError) is a network failure, not an abort.
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "GET" }, action: { type: "delay", ms: 3000 } }],
    });
    // A client of our own: openObjectStore has no timeout option, and createS3Client's `requestTimeoutMs` only
    // logs a warning unless the handler is told to throw (reported to @toolkit/shared).
    const client = new S3Client({
      ...testClientOptions(server, proxy.endpoint),
      forcePathStyle: true,
      maxAttempts: 1,
      requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
    });
    try {
      const remoteOptions = { client };
      const reader = await openKv({ path, remote: `${url}db`, flag: "r", remoteOptions });
      expect(reader.offline).toBe(true);
      expect(await reader.get("k")).toBe("v");
      await reader.close();
      const error = await openKv({ path, remote: `${url}db`, flag: "w", remoteOptions }).catch((e: unknown) => e);
      expect(isKvError(error, "kv.remote"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/cannot be reached/);
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });
});

function sorted(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
