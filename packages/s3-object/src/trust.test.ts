import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type GetResult, hashBytes, MultipartEtagHasher, type ObjectStore, silentLogger } from "@toolkit/shared";
import { describe, expect, test } from "vitest";
import { downloadToFile } from "./download.ts";
import { isS3ObjectError } from "./errors.ts";
import { BodyHasher, isMultipartEtagOf, parseObjectMetadata, partSizeCandidates, verifyBody } from "./verify.ts";

const MiB = 1024 * 1024;
const hex = "a".repeat(64);

describe("an upload's answered ETag at the trust boundary", () => {
  test("only a multipart ETag of exactly the parts sent is taken as the content id", () => {
    const md5 = "0123456789abcdef0123456789abcdef";
    expect(isMultipartEtagOf(`"${md5}-128"`, 128)).toBe(true);
    for (const answered of [
      `"${md5}-127"`, // another part count
      `"${md5}"`, // a plain MD5
      `${md5}-128`, // unquoted
      `W/"${md5}-128"`, // weak
      `"${md5.toUpperCase()}-128"`,
      `"${md5.slice(1)}-128"`,
      `"${md5}-0128"`,
      `"${md5}-128" `,
      `"../../etc/passwd-128"`,
      "",
    ])
      expect(isMultipartEtagOf(answered, 128), answered).toBe(false);
  });
});

describe("s3kit-* metadata at the trust boundary", () => {
  test("absent values are fine; well-formed ones are parsed", () => {
    expect(parseObjectMetadata({}, "s3://b/k")).toEqual({});
    expect(parseObjectMetadata({ "s3kit-sha256": hex, "s3kit-part-size": "8388608" }, "s3://b/k")).toEqual({
      sha256: hex,
      partSizeBytes: 8 * MiB,
    });
  });

  test.each([
    ["a path as the SHA-256", { "s3kit-sha256": "../../../../home/me/notes.txt" }],
    ["an absolute path as the SHA-256", { "s3kit-sha256": "/etc/passwd" }],
    ["upper-case hex", { "s3kit-sha256": hex.toUpperCase() }],
    ["63 hex characters", { "s3kit-sha256": hex.slice(1) }],
    ["an empty SHA-256", { "s3kit-sha256": "" }],
    ["a part size that is not a number", { "s3kit-part-size": "8MiB" }],
    ["a negative part size", { "s3kit-part-size": "-1" }],
    ["a part size above S3's 5 GiB", { "s3kit-part-size": String(6 * 1024 * MiB) }],
  ])("%s is corrupt or hostile (object.integrity naming the value)", (_what, metadata) => {
    let error: unknown;
    try {
      parseObjectMetadata(metadata, "s3://b/k");
    } catch (e) {
      error = e;
    }
    expect(isS3ObjectError(error, "object.integrity")).toBe(true);
    expect((error as Error).message).toMatch(/s3:\/\/b\/k/);
    expect((error as Error).message).toMatch(/corrupt or hostile/);
  });

  test("verifyBody and partSizeCandidates refuse malformed metadata instead of falling back to the ETag", () => {
    const body = Buffer.from("hello");
    const hasher = new BodyHasher([]);
    hasher.update(body);
    const digest = hasher.digest();
    const remote = { etag: `"${hashBytes(body, "md5")}"`, size: body.length, metadata: {} };
    expect(verifyBody("auto", "x", remote, digest, body.length)).toBe("md5");
    expect(() =>
      verifyBody("auto", "x", { ...remote, metadata: { "s3kit-sha256": "/etc/passwd" } }, digest, body.length),
    ).toThrow(/corrupt or hostile/);
    expect(() => partSizeCandidates(64 * MiB, '"abc-8"', { "s3kit-part-size": "x" })).toThrow(/corrupt or hostile/);
    // verify: "none" reads no metadata at all.
    expect(verifyBody("none", "x", { ...remote, metadata: { "s3kit-sha256": "/etc/passwd" } }, digest, 5)).toBe("none");
  });
});

/** A store whose GET answers `body` for any range, declaring `declared` bytes in all. */
function lyingStore(declared: number, body: () => Buffer, metadata: Record<string, string> = {}): ObjectStore {
  const get = async (_key: string, opts: { range?: { start: number; end?: number } } = {}): Promise<GetResult> => {
    const start = opts.range?.start ?? 0;
    const end = Math.min(opts.range?.end ?? declared - 1, declared - 1);
    return {
      key: "k",
      size: declared,
      etag: '"0123456789abcdef0123456789abcdef"',
      lastModified: new Date(0),
      metadata,
      body: Readable.from([body()]),
      range: { start, end, total: declared },
    };
  };
  return { get } as unknown as ObjectStore;
}

async function tryDownload(store: ObjectStore) {
  const dir = await mkdtemp(join(tmpdir(), "s3o-trust-"));
  const path = join(dir, "out.tmp");
  const file = await open(path, "wx+");
  try {
    await downloadToFile({
      store,
      key: "k",
      what: "s3://b/k",
      file,
      partSizeBytes: 5 * MiB,
      partConcurrency: 2,
      attempts: 2,
      verify: "auto",
      thresholdBytes: 16 * MiB,
      identityPartSize: 8 * MiB,
      logger: silentLogger,
    });
    return { error: undefined, size: (await file.stat()).size };
  } catch (error) {
    return { error, size: (await file.stat()).size };
  } finally {
    await file.close();
    expect(await readdir(dir)).toEqual(["out.tmp"]);
    await rm(dir, { recursive: true, force: true });
  }
}

describe("a download is capped at the object's declared size", () => {
  test("a body longer than declared fails before the excess is written", async () => {
    const { error, size } = await tryDownload(lyingStore(10, () => Buffer.alloc(1 * MiB, 7)));
    expect(isS3ObjectError(error) || (error as { code?: string }).code === "invalidRemoteData").toBe(true);
    expect((error as Error).message).toMatch(/larger than its declared 10 bytes/);
    expect(size).toBeLessThanOrEqual(10);
  });

  test("malformed s3kit-sha256 fails before any body byte is written", async () => {
    const { error, size } = await tryDownload(
      lyingStore(5, () => Buffer.from("hello"), { "s3kit-sha256": "../../../../etc/passwd" }),
    );
    expect(isS3ObjectError(error, "object.integrity")).toBe(true);
    expect(size).toBe(0);
  });
});

/** A store serving `data` by ranges, with the given ETag and metadata. */
function rangedStore(data: Buffer, etag: string, metadata: Record<string, string> = {}): ObjectStore {
  const get = async (_key: string, opts: { range?: { start: number; end?: number } } = {}): Promise<GetResult> => {
    const start = opts.range?.start ?? 0;
    const end = Math.min(opts.range?.end ?? data.length - 1, data.length - 1);
    return {
      key: "k",
      size: data.length,
      etag,
      lastModified: new Date(0),
      metadata,
      body: Readable.from([data.subarray(start, end + 1)]),
      range: { start, end, total: data.length },
    };
  };
  return { get } as unknown as ObjectStore;
}

describe("large downloads hash each part as it is written (multipart ETag for our part size)", () => {
  const data = Buffer.alloc(21 * MiB);
  for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
  const etagFor = (body: Buffer) => {
    const hasher = new MultipartEtagHasher(8 * MiB);
    hasher.update(body);
    return hasher.digest();
  };

  async function download(store: ObjectStore) {
    const dir = await mkdtemp(join(tmpdir(), "s3o-parts-"));
    const file = await open(join(dir, "out.tmp"), "wx+");
    try {
      return await downloadToFile({
        store,
        key: "k",
        what: "s3://b/k",
        file,
        partSizeBytes: 8 * MiB,
        partConcurrency: 3,
        attempts: 1,
        verify: "auto",
        thresholdBytes: 16 * MiB,
        identityPartSize: 8 * MiB,
        logger: silentLogger,
      });
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  }

  test("the right bytes verify by their multipart ETag", async () => {
    const result = await download(rangedStore(data, etagFor(data), { "s3kit-part-size": String(8 * MiB) }));
    expect(result.notModified).toBe(false);
    if (result.notModified) return;
    expect(result.verified).toBe("multipartEtag");
    expect(result.bytes).toBe(data.length);
    expect(result.digest.multipart).toEqual([{ partSizeBytes: 8 * MiB, etag: etagFor(data) }]);
  });

  test("one changed byte in the last part fails verification", async () => {
    const other = Buffer.from(data);
    other.writeUInt8(other.readUInt8(other.length - 1) ^ 1, other.length - 1);
    const error = await download(rangedStore(other, etagFor(data), { "s3kit-part-size": String(8 * MiB) })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isS3ObjectError(error, "object.integrity")).toBe(true);
  });
});
