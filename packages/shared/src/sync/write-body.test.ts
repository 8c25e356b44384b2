import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isObjectStoreError } from "../errors.ts";
import { WRITE_BATCH_BYTES, writeBodyAt } from "./write-body.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "write-body-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A body of `chunks` chunks of `size` bytes, chunk i filled with the byte i. */
const bodyOf = (chunks: number, size: number) =>
  Readable.from(Array.from({ length: chunks }, (_, i) => Buffer.alloc(size, i % 256)));

describe("writeBodyAt", () => {
  it("writes a body larger than one batch at its position, hashing each chunk once in order", async () => {
    const path = join(dir, "f");
    const file = await open(path, "w");
    const seen: number[] = [];
    const progress: number[] = [];
    const chunk = 64 * 1024;
    const count = (2 * WRITE_BATCH_BYTES) / chunk + 3;
    const written = await writeBodyAt(bodyOf(count, chunk), file, 10, count * chunk, "s3://b/k", {
      onChunk: (c) => seen.push(c[0] ?? -1),
      onBytes: (n) => progress.push(n),
    });
    await file.close();
    expect(written).toBe(count * chunk);
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i % 256));
    expect(progress.at(-1)).toBe(count * chunk);
    const data = await readFile(path);
    expect(data.length).toBe(10 + count * chunk);
    expect(data[10 + chunk * 5]).toBe(5);
    expect(data[10 + chunk * (count - 1)]).toBe((count - 1) % 256);
  });

  it("refuses a body longer than declared before the excess is written", async () => {
    const path = join(dir, "f");
    const file = await open(path, "w");
    const error = await writeBodyAt(bodyOf(4, 1000), file, 0, 3500, "s3://b/long", {}).catch((e: unknown) => e);
    await file.close();
    expect(isObjectStoreError(error, "invalidRemoteData")).toBe(true);
    expect((error as Error).message).toMatch(/s3:\/\/b\/long is larger than its declared 3500 bytes/);
    expect((await readFile(path)).length).toBeLessThanOrEqual(3500);
  });

  it("resolves with fewer bytes for a body that ends early (the caller decides)", async () => {
    const file = await open(join(dir, "f"), "w");
    expect(await writeBodyAt(bodyOf(2, 1000), file, 0, 5000, "s3://b/short")).toBe(2000);
    await file.close();
  });

  it("fails with the body's error and with the signal's reason", async () => {
    const file = await open(join(dir, "f"), "w");
    const broken = new Readable({
      read() {
        this.destroy(new Error("socket reset"));
      },
    });
    await expect(writeBodyAt(broken, file, 0, 10, "s3://b/x")).rejects.toThrow("socket reset");
    const controller = new AbortController();
    const endless = new Readable({ read() {} });
    const pending = writeBodyAt(endless, file, 0, 10, "s3://b/x", { signal: controller.signal });
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
    expect(endless.destroyed).toBe(true);
    await file.close();
  });
});
