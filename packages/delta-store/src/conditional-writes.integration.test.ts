// Issue 17: a deltaspace's reference is created with If-None-Match: * so a concurrent first upload never
// replaces it. Behind a fault proxy that strips the header (an endpoint that ignores it), the probe makes the
// store HEAD first: the race is still lost cleanly (our file becomes a delta against their reference), and
// the store says so once. Against plain moto: no warning, and the probe's four requests only once.
import { createHash } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBytes, tempDir, versionOf } from "./__fixtures__/versions.ts";
import { createDeltaStore, type DeltaStore } from "./index.ts";

let server: TestServer;
let work: string;
const savedCache = process.env.XDG_CACHE_HOME;
const toClose: { close(): Promise<void> }[] = [];
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir("cw");
  // The probe's answers are cached under the cache directory: keep them out of the user's.
  process.env.XDG_CACHE_HOME = join(work, "xdg");
});
afterAll(async () => {
  for (const c of toClose) await c.close();
  await Promise.all(proxies.map((p) => p.stop()));
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await rm(work, { recursive: true, force: true });
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const base = realBytes(300_000);

function open(location: string, endpoint: string, extra: Partial<Parameters<typeof createDeltaStore>[0]> = {}) {
  const store = createDeltaStore({
    location,
    ...testClientOptions(server, endpoint),
    cache: { dir: join(work, `cache-${Math.random().toString(36).slice(2)}`) },
    ...extra,
  });
  toClose.push(store);
  return store;
}

/**
 * A proxy that strips conditional headers and, when our store first HEADs `app/reference.bin` (404: a new
 * deltaspace), has another writer create that deltaspace at once; our next HEAD of it waits until that is done.
 */
async function racingProxy(theirs: DeltaStore, theirFile: string) {
  let refHeads = 0;
  let competitor: Promise<unknown> | undefined;
  const proxy = await startFaultProxy({
    target: server.endpoint,
    faults: [
      {
        match: ({ method, path }) => {
          if (method !== "HEAD" || !path.endsWith("/app/reference.bin")) return false;
          refHeads++;
          if (refHeads === 1) competitor = theirs.put(theirFile, "app/theirs-1.0.tar");
          return refHeads === 2;
        },
        action: { type: "delay", ms: 4000 },
      },
      { action: { type: "stripConditionalHeaders" } },
    ],
  });
  proxies.push(proxy);
  return { proxy, competitor: () => competitor };
}

async function fixture(tag: string) {
  const { url, client } = await createTestBucket(server, tag);
  client.destroy();
  const location = `${url}releases/`;
  const raw: ObjectStore = openObjectStore(location, testClientOptions(server));
  toClose.push(raw);
  const ours = join(work, `${tag}-ours.tar`);
  const theirs = join(work, `${tag}-theirs.tar`);
  await writeFile(ours, versionOf(base, 2));
  await writeFile(theirs, versionOf(base, 1));
  // The other writer goes straight to moto.
  const other = open(location, server.endpoint, { conditionalWrites: "native" });
  return { location, raw, ours, theirs, other };
}

describe("delta-store on an endpoint that ignores conditional writes", () => {
  it("a concurrent first upload of a deltaspace keeps their reference; ours becomes a delta; one warning", async () => {
    const { location, raw, ours, theirs, other } = await fixture("dcw-strip");
    const { proxy, competitor } = await racingProxy(other, theirs);
    const warnings: string[] = [];
    const store = open(location, proxy.endpoint, { onWarning: (m) => warnings.push(m) });
    const result = await store.put(ours, "app/ours-2.0.tar");
    await competitor();
    expect(result.stored).toBe("delta");
    // Their reference is intact: it still holds their file.
    const ref = await raw.head("app/reference.bin");
    expect(ref?.metadata["dg-file-sha256"]).toBe(sha(await readFile(theirs)));
    for (const [key, file] of [
      ["app/ours-2.0.tar", ours],
      ["app/theirs-1.0.tar", theirs],
    ] as const) {
      const out = join(work, `dcw-out-${key.split("/")[1]}`);
      await store.get(key, out);
      expect(sha(await readFile(out)), key).toBe(sha(await readFile(file)));
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/does not honour conditional PutObject .*race window.*s3kit doctor s3:\/\//);
    expect(result.warnings).toEqual(warnings);
    expect(store.warnings).toEqual(warnings);
    // A later put in a new deltaspace: no second warning.
    const later = await store.put(ours, "next/ours-2.0.tar");
    expect(later.stored).toBe("reference");
    expect(later.warnings).toBeUndefined();
    expect(store.warnings).toHaveLength(1);
  });

  it("control: without the HEAD check, the stripped header lets our upload replace their reference", async () => {
    const { location, raw, ours, theirs, other } = await fixture("dcw-native");
    const strip = await startFaultProxy({
      target: server.endpoint,
      faults: [{ action: { type: "stripConditionalHeaders" } }],
    });
    proxies.push(strip);
    // The same race, arranged in process: they create the deltaspace right after our HEAD of its reference
    // answered 404, and our PUT of it goes out once they are done. A store passed in is used as it is (native).
    const inner = openObjectStore(location, testClientOptions(server, strip.endpoint));
    toClose.push(inner);
    let competitor: Promise<unknown> | undefined;
    const racing: ObjectStore = {
      ...inner,
      async head(key, o) {
        const info = await inner.head(key, o);
        if (key === "app/reference.bin" && !competitor) competitor = other.put(theirs, "app/theirs-1.0.tar");
        return info;
      },
      async put(key, body, o) {
        if (key === "app/reference.bin") await competitor;
        return inner.put(key, body, o);
      },
    };
    const store = createDeltaStore({ location, store: racing, cache: { dir: join(work, "cache-native") } });
    toClose.push(store);
    const result = await store.put(ours, "app/ours-2.0.tar");
    expect(result.stored).toBe("reference");
    const ref = await raw.head("app/reference.bin");
    expect(ref?.metadata["dg-file-sha256"]).toBe(sha(await readFile(ours)));
    // Their delta was made against the reference we overwrote: a reader without their cache cannot rebuild it.
    const reader = open(location, server.endpoint, { conditionalWrites: "native" });
    await expect(reader.get("app/theirs-1.0.tar", join(work, "dcw-lost.tar"))).rejects.toThrow();
    expect(store.warnings).toEqual([]);
  });

  it("plain moto: no warning; the probe's four requests once per bucket, then none", async () => {
    const { location, ours } = await fixture("dcw-moto");
    const proxy = await startFaultProxy({ target: server.endpoint });
    proxies.push(proxy);
    const warnings: string[] = [];
    const store = open(location, proxy.endpoint, { onWarning: (m) => warnings.push(m) });
    await store.put(ours, "a/ours.tar");
    const probes = proxy.requests.filter((r) => r.path.includes(".s3kit/probe/")).map((r) => r.method);
    expect(probes).toEqual(["PUT", "PUT", "PUT", "DELETE"]);
    const second = open(location, proxy.endpoint, { onWarning: (m) => warnings.push(m) });
    const before = proxy.requests.length;
    expect((await second.put(ours, "b/ours.tar")).stored).toBe("reference");
    expect(proxy.requests.slice(before).filter((r) => r.path.includes(".s3kit/probe/"))).toEqual([]);
    expect(warnings).toEqual([]);
    expect([...store.warnings, ...second.warnings]).toEqual([]);
  });
});
