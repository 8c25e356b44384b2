import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import type { Sha256Hex } from "@toolkit/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./__fixtures__/versions.ts";
import { isDeltaError } from "./errors.ts";
import { defaultCacheDir, ReferenceCache, type ReferenceCacheHooks } from "./reference-cache.ts";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("cache-unit");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex") as Sha256Hex;

/** A fetcher that counts its calls and writes `bytes` into the cache's sink. */
function source(bytes: Buffer) {
  const counter = { calls: 0 };
  const fetch = async (sink: Writable) => {
    counter.calls++;
    await new Promise<void>((resolve, reject) => {
      sink.on("error", reject);
      sink.end(bytes, () => resolve());
    });
  };
  return { fetch, counter, sha256: sha(bytes) };
}

/** Hooks that count how often each entry is read to check its hash. */
function hashCounter() {
  const hashes = new Map<string, number>();
  const hooks: ReferenceCacheHooks = { onEntryHash: (sha256) => hashes.set(sha256, (hashes.get(sha256) ?? 0) + 1) };
  return { hooks, of: (sha256: string) => hashes.get(sha256) ?? 0 };
}

async function setLastUse(cache: ReferenceCache, sha256: Sha256Hex, secondsAgo: number) {
  const when = new Date(Date.now() - secondsAgo * 1000);
  await utimes(cache.entryPath(sha256), when, when);
}

describe("ReferenceCache", () => {
  it("evicts the least recently used entries beyond maxBytes, never one in use", async () => {
    const size = 10_000;
    const cache = new ReferenceCache({ dir: join(dir, "lru"), maxBytes: Math.floor(size * 2.5) });
    const [a, b, c, d] = [0, 1, 2, 3].map(() => source(randomBytes(size)));
    for (const [i, s] of [a!, b!].entries()) {
      await (await cache.acquire(s.sha256, s.fetch)).release();
      await setLastUse(cache, s.sha256, 100 - i);
    }
    await (await cache.acquire(c!.sha256, c!.fetch)).release();
    // Three entries exceed 2.5 × size: the oldest (a) goes, b and c stay.
    expect(existsSync(cache.entryPath(a!.sha256))).toBe(false);
    expect(existsSync(cache.entryPath(b!.sha256))).toBe(true);
    expect(existsSync(cache.entryPath(c!.sha256))).toBe(true);

    // A cached entry is served without fetching; a used entry becomes the most recent.
    await setLastUse(cache, c!.sha256, 200);
    await (await cache.acquire(c!.sha256, c!.fetch)).release();
    expect(c!.counter.calls).toBe(1);

    // b is now the oldest but held by an operation: adding d evicts c instead, never b while it is in use.
    const held = await cache.acquire(b!.sha256, b!.fetch);
    await setLastUse(cache, b!.sha256, 300);
    await (await cache.acquire(d!.sha256, d!.fetch)).release();
    expect(existsSync(cache.entryPath(b!.sha256))).toBe(true);
    expect(existsSync(cache.entryPath(c!.sha256))).toBe(false);
    expect(existsSync(cache.entryPath(d!.sha256))).toBe(true);
    await held.release();
    await cache.close();
  });

  it("keeps nothing with maxBytes 0 and rejects fetched bytes that fail their hash", async () => {
    const root = join(dir, "zero");
    const cache = new ReferenceCache({ dir: root, maxBytes: 0 });
    const s = source(randomBytes(5000));
    const ref = await cache.acquire(s.sha256, s.fetch);
    expect(existsSync(ref.path)).toBe(true);
    await ref.release();
    expect(existsSync(ref.path)).toBe(false);
    expect(await readdir(root).catch(() => [])).toEqual([]);
    await (await cache.acquire(s.sha256, s.fetch)).release();
    expect(s.counter.calls).toBe(2);

    const liar = source(randomBytes(5000));
    const wanted = sha(randomBytes(8));
    const cached = new ReferenceCache({ dir: join(dir, "liar") });
    await expect(cached.acquire(wanted, liar.fetch)).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.integrity"),
    );
    expect(existsSync(cached.entryPath(wanted))).toBe(false);
    await cache.close();
    await cached.close();
  });

  it("defaults to delta-references in s3kit's cache directory on each platform", () => {
    expect(defaultCacheDir({ platform: "linux", env: { XDG_CACHE_HOME: "/x/cache" }, home: "/home/me" })).toBe(
      "/x/cache/s3kit/delta-references",
    );
    expect(defaultCacheDir({ platform: "linux", env: {}, home: "/home/me" })).toBe(
      "/home/me/.cache/s3kit/delta-references",
    );
    expect(defaultCacheDir({ platform: "darwin", env: {}, home: "/Users/me" })).toBe(
      "/Users/me/Library/Caches/s3kit/delta-references",
    );
    expect(
      defaultCacheDir({
        platform: "win32",
        env: { LOCALAPPDATA: "C:\\Users\\me\\AppData\\Local" },
        home: "C:\\Users\\me",
      }),
    ).toBe("C:\\Users\\me\\AppData\\Local\\s3kit\\Cache\\delta-references");
  });

  it("refuses to name an entry by anything but a SHA-256, and never serves a symlinked entry", async () => {
    const cache = new ReferenceCache({ dir: join(dir, "strict") });
    for (const bad of ["../../../../x/notes.txt", "A".repeat(64), "/etc/passwd", ""]) {
      expect(() => cache.entryPath(bad as Sha256Hex)).toThrow(expect.objectContaining({ code: "delta.integrity" }));
      await expect(cache.acquire(bad as Sha256Hex, async () => {})).rejects.toSatisfy((e: unknown) =>
        isDeltaError(e, "delta.integrity"),
      );
    }
    // A symlink planted where an entry belongs is neither followed nor served; its target survives.
    const bytes = randomBytes(4000);
    const s = source(bytes);
    const outside = join(dir, "outside-target");
    await writeFile(outside, bytes);
    const entry = cache.entryPath(s.sha256);
    await mkdir(dirname(entry), { recursive: true });
    await symlink(outside, entry);
    const ref = await cache.acquire(s.sha256, s.fetch);
    expect(s.counter.calls).toBe(1);
    expect(existsSync(outside)).toBe(true);
    expect((await lstat(entry)).isSymbolicLink()).toBe(false);
    await ref.release();
    await cache.close();
  });
  it("does not re-hash an entry it verified while the entry is unchanged (same inode, size, times)", async () => {
    const counted = hashCounter();
    const cache = new ReferenceCache({ dir: join(dir, "stamp-same") }, undefined, counted.hooks);
    const s = source(randomBytes(20_000));
    // Fetched: hashed on the way in, so even the first use from the cache is not read again.
    await (await cache.acquire(s.sha256, s.fetch)).release();
    for (let i = 0; i < 3; i++) {
      const ref = await cache.acquire(s.sha256, s.fetch);
      expect(sha(await readFile(ref.path))).toBe(s.sha256);
      await ref.release();
    }
    expect(s.counter.calls).toBe(1);
    expect(counted.of(s.sha256)).toBe(0);

    // A seeded entry (the reference this process uploaded) is hashed while it is copied: not read again either.
    const bytes = randomBytes(20_000);
    const local = join(dir, "stamp-seed-source");
    await writeFile(local, bytes);
    await cache.seed(sha(bytes), local);
    const seeded = source(bytes);
    await (await cache.acquire(seeded.sha256, seeded.fetch)).release();
    expect(seeded.counter.calls).toBe(0);
    expect(counted.of(seeded.sha256)).toBe(0);

    // Another instance (another process) has verified nothing: it hashes once, then trusts its own check.
    const other = new ReferenceCache({ dir: join(dir, "stamp-same") }, undefined, counted.hooks);
    await (await other.acquire(s.sha256, s.fetch)).release();
    await (await other.acquire(s.sha256, s.fetch)).release();
    expect(counted.of(s.sha256)).toBe(1);
    expect(s.counter.calls).toBe(1);
    await cache.close();
    await other.close();
  });

  it("re-verifies an entry changed behind its back, and fetches again when it no longer hashes right", async () => {
    const counted = hashCounter();
    const cache = new ReferenceCache({ dir: join(dir, "stamp-changed") }, undefined, counted.hooks);
    const bytes = randomBytes(20_000);
    const s = source(bytes);
    await (await cache.acquire(s.sha256, s.fetch)).release();
    const entry = cache.entryPath(s.sha256);

    // Only its times changed (as a `touch` by someone else would): hashed again, still good, served.
    const past = new Date(Date.now() - 3_600_000);
    await utimes(entry, past, past);
    await (await cache.acquire(s.sha256, s.fetch)).release();
    expect(counted.of(s.sha256)).toBe(1);
    expect(s.counter.calls).toBe(1);

    // One byte overwritten in place (same inode, same size) and the mtime put back: the ctime still moved,
    // so the entry is hashed, found corrupt, removed and fetched again; the copy served is the right one.
    const { mtime } = await lstat(entry);
    const handle = await open(entry, "r+");
    await handle.write(Buffer.from([bytes[100]! ^ 0xff]), 0, 1, 100);
    await handle.close();
    await utimes(entry, mtime, mtime);
    const ref = await cache.acquire(s.sha256, s.fetch);
    expect(counted.of(s.sha256)).toBe(2);
    expect(s.counter.calls).toBe(2);
    expect(sha(await readFile(ref.path))).toBe(s.sha256);
    await ref.release();

    // Replaced by another file of the same size (a new inode): hashed again, and fetched again as it is wrong.
    const wrong = join(dir, "stamp-wrong");
    await writeFile(wrong, randomBytes(bytes.length));
    await rm(entry);
    await writeFile(entry, await readFile(wrong));
    const again = await cache.acquire(s.sha256, s.fetch);
    expect(counted.of(s.sha256)).toBe(3);
    expect(s.counter.calls).toBe(3);
    expect(sha(await readFile(again.path))).toBe(s.sha256);
    await again.release();
    await cache.close();
  });
});
