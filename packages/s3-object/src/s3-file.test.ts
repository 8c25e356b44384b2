import { join } from "node:path";
import { multipartEtag } from "@toolkit/shared";
import { describe, expect, test } from "vitest";
import { defaultCacheDir, parseObjectUrl, pathInside } from "./address.ts";
import { isS3ObjectError, S3File } from "./index.ts";
import { BodyHasher, partSizeCandidates, verifyBody } from "./verify.ts";

const MiB = 1024 * 1024;

describe("object URLs and the cache", () => {
  test("s3 and file URLs parse; folders, traversal and other schemes are rejected", () => {
    expect(parseObjectUrl("s3://bucket/reports/q3.csv")).toMatchObject({ container: "bucket", key: "reports/q3.csv" });
    expect(parseObjectUrl("file:///srv/data/a.txt")).toMatchObject({ key: "a.txt", storeUrl: "file:///srv/data" });
    for (const bad of [
      "s3://bucket/",
      "s3://bucket/dir/",
      "s3://bucket/a/../../etc/passwd",
      "http://x/y",
      "s3://B/k",
      "",
    ]) {
      expect(() => parseObjectUrl(bad), bad).toThrow(/Invalid object URL/);
    }
  });

  test("the cache copy lives at <cacheDir>/<bucket>/<key>; XDG_CACHE_HOME is honoured", () => {
    const f = new S3File("s3://bucket/a/b.txt", { cacheDir: "/tmp/c" });
    expect(f.localPath).toBe("/tmp/c/bucket/a/b.txt");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x/cache" })).toBe(join("/x/cache", "s3kit", "objects"));
    expect(() => pathInside("/tmp/c", ["..", "evil"], "key")).toThrow(/outside/);
  });

  test("options are validated with a one-line error naming the option", () => {
    const error = (() => {
      try {
        new S3File("s3://bucket/k", { partSizeBytes: 1024 });
      } catch (e) {
        return e;
      }
    })();
    expect(isS3ObjectError(error, "object.invalidOptions")).toBe(true);
    expect((error as Error).message).toMatch(/`partSizeBytes` \(1024\)/);
    expect(() => new S3File("s3://bucket/k", { verify: "maybe" as "auto" })).toThrow(/verify/);
    expect(() => new S3File("s3://bucket/k", { partSizeBytes: 16 * MiB, multipartThresholdBytes: 8 * MiB })).toThrow(
      /multipartThresholdBytes/,
    );
  });
});

describe("verification", () => {
  test("part-size candidates fit the ETag's part count, the recorded size first", () => {
    expect(partSizeCandidates(64 * MiB, '"abc-8"', {})).toEqual([8 * MiB]);
    expect(partSizeCandidates(11 * MiB, '"abc-3"', {})).toEqual([5 * MiB]);
    expect(partSizeCandidates(20 * MiB, '"abc-2"', { "s3kit-part-size": String(12 * MiB) })[0]).toBe(12 * MiB);
    expect(partSizeCandidates(100, '"0123456789abcdef0123456789abcdef"', {})).toEqual([]);
  });

  test("a multipart ETag is recomputed; a wrong body or wrong SHA-256 is object.integrity", async () => {
    const body = Buffer.alloc(12 * MiB, 3);
    const { writeFile, mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const path = join(await mkdtemp(join(tmpdir(), "s3o-v-")), "b");
    await writeFile(path, body);
    const etag = await multipartEtag(path, 5 * MiB);
    const hasher = new BodyHasher(partSizeCandidates(body.length, etag, {}));
    hasher.update(body);
    const digest = hasher.digest();
    const remote = { etag, size: body.length, metadata: {} };
    expect(verifyBody("strict", "x", remote, digest, body.length)).toBe("multipartEtag");
    expect(() => verifyBody("auto", "x", { ...remote, size: body.length + 1 }, digest, body.length)).toThrow(
      /expected/,
    );
    expect(() =>
      verifyBody("auto", "x", { ...remote, metadata: { "s3kit-sha256": "f".repeat(64) } }, digest, body.length),
    ).toThrow(/SHA-256/);
    expect(() => verifyBody("auto", "x", { ...remote, etag: `"${"0".repeat(32)}"` }, digest, body.length)).toThrow(
      /MD5/,
    );
    expect(verifyBody("none", "x", { ...remote, etag: `"${"0".repeat(32)}"` }, digest, body.length)).toBe("none");
    expect(verifyBody("auto", "x", { ...remote, etag: '"kms-etag-not-md5"' }, digest, body.length)).toBe("none");
    expect(() => verifyBody("strict", "x", { ...remote, etag: '"kms-etag-not-md5"' }, digest, body.length)).toThrow();
  });

  test("SSE-KMS objects: a non-MD5 ETag is accepted unverified in auto, refused in strict; SHA-256 still checked", () => {
    const body = Buffer.from("encrypted at rest");
    const hasher = new BodyHasher([]);
    hasher.update(body);
    const digest = hasher.digest();
    const kms = { etag: `"${"a".repeat(32)}"`, size: body.length, metadata: {}, serverSideEncryption: "aws:kms" };
    expect(verifyBody("auto", "x", kms, digest, body.length)).toBe("none");
    expect(verifyBody("auto", "x", { ...kms, etag: `"${"a".repeat(32)}-3"` }, digest, body.length)).toBe("none");
    expect(() => verifyBody("strict", "x", kms, digest, body.length)).toThrow(/MD5/);
    // Without SSE-KMS the same ETag is a real mismatch; with SSE-KMS an ETag that is the MD5 still verifies.
    expect(() => verifyBody("auto", "x", { ...kms, serverSideEncryption: "AES256" }, digest, body.length)).toThrow(
      /MD5/,
    );
    expect(verifyBody("auto", "x", { ...kms, etag: `"${digest.md5}"` }, digest, body.length)).toBe("md5");
    // Our SHA-256 metadata is independent of the encryption, and the length is always checked.
    const sha = { ...kms, metadata: { "s3kit-sha256": "0".repeat(64) } };
    expect(() => verifyBody("auto", "x", sha, digest, body.length)).toThrow(/SHA-256/);
    expect(() => verifyBody("auto", "x", { ...kms, size: body.length + 1 }, digest, body.length)).toThrow(/expected/);
  });
});
