import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { etagPartCount, MultipartEtagHasher, md5File, multipartEtag, sha256File, unquoteEtag } from "./hashing.ts";

const dir = await mkdtemp(join(tmpdir(), "s3kit-hash-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("hashing", () => {
  test("streaming MD5 and SHA-256 of a file match the one-shot digests", async () => {
    const data = randomBytes(300_000);
    const path = join(dir, "a.bin");
    await writeFile(path, data);
    expect(await md5File(path)).toBe(createHash("md5").update(data).digest("hex"));
    expect(await sha256File(path)).toBe(createHash("sha256").update(data).digest("hex"));
  });

  test("multipart ETag: md5 of the part md5s, with the part count", async () => {
    const part = 5 * 1024 * 1024;
    const data = randomBytes(part * 2 + 123);
    const path = join(dir, "b.bin");
    await writeFile(path, data);
    const digests = [0, 1, 2].map((i) =>
      createHash("md5")
        .update(data.subarray(i * part, (i + 1) * part))
        .digest(),
    );
    const expected = `"${createHash("md5").update(Buffer.concat(digests)).digest("hex")}-3"`;
    expect(await multipartEtag(path, part)).toBe(expected);
    // Chunk boundaries do not matter.
    const hasher = new MultipartEtagHasher(part);
    for (let i = 0; i < data.length; i += 777_777) hasher.update(data.subarray(i, i + 777_777));
    expect(hasher.digest()).toBe(expected);
    expect(etagPartCount(expected)).toBe(3);
    expect(unquoteEtag(expected)).toBe(expected.slice(1, -1));
  });

  test("a body of one part or less has the plain MD5 ETag unless forced", async () => {
    const path = join(dir, "c.bin");
    await writeFile(path, "small");
    const md5 = createHash("md5").update("small").digest("hex");
    expect(await multipartEtag(path, 5 * 1024 * 1024)).toBe(`"${md5}"`);
    const forced = await multipartEtag(path, 5 * 1024 * 1024, { forceMultipart: true });
    expect(forced).toMatch(/-1"$/);
    expect(etagPartCount(`"${md5}"`)).toBe(1);
  });
});
