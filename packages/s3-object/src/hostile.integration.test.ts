import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  seedHostileStore,
  snapshotTree,
  startS3Server,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isS3ObjectError, S3File } from "./index.ts";

let server: Awaited<ReturnType<typeof startS3Server>>;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("downloads against the hostile-input kit (moto)", () => {
  test("lying or malformed metadata fails the download; nothing outside the target changes; good objects download", async () => {
    const sandbox = await createHostileSandbox("s3o-hostile");
    try {
      const { bucket, client } = await createTestBucket(server, "s3o-hostile");
      const seed = await seedHostileStore({ location: `s3://${bucket}/h/`, outsideDir: sandbox.outside, client });
      const before = await snapshotTree(sandbox.root, { exclude: ["target"] });
      // Keys an S3File URL can name (path keys are refused by the URL parser, tested elsewhere).
      const items = seed.items.filter((i) => ["control", "lyingMetadata", "empty", "bomb"].includes(i.category));
      expect(items.map((i) => i.key)).toContain("lies/hash-is-path.txt");
      for (const [index, item] of items.entries()) {
        const localPath = join(sandbox.target, `item-${index}`);
        const f = new S3File(`s3://${bucket}/h/${item.key}`, {
          localPath,
          cacheDir: join(sandbox.target, "cache"),
          ...testClientOptions(server),
        });
        try {
          if (item.download === "fail") {
            const error = await f.download().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(isS3ObjectError(error, "object.integrity"), `${item.key}: ${String(error)}`).toBe(true);
            expect(await exists(localPath), item.key).toBe(false);
          } else {
            const result = await f.download();
            expect(result.transferred, item.key).toBe(true);
            const got = await readFile(localPath);
            expect(got.length, item.key).toBe(item.size);
          }
        } finally {
          await f.close();
        }
      }
      // No temp file left beside any local copy, nothing outside the target touched.
      expect((await readdir(sandbox.target)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
      expect(diffTrees(before, await snapshotTree(sandbox.root, { exclude: ["target"] }))).toEqual([]);
      expect(await readFile(seed.secretPath, "utf8")).toMatch(/must survive unchanged/);
    } finally {
      await sandbox.remove();
    }
  });

  test("a malformed s3kit-sha256 (a path, upper case) or s3kit-part-size is refused, never a fallback to the ETag", async () => {
    const sandbox = await createHostileSandbox("s3o-crafted");
    try {
      const { bucket, client } = await createTestBucket(server, "s3o-crafted");
      const body = Buffer.from("the body is fine; its metadata is not\n");
      const crafted: Record<string, Record<string, string>> = {
        "path.txt": { "s3kit-sha256": "../../../../home/me/notes.txt" },
        "upper.txt": { "s3kit-sha256": "A".repeat(64) },
        "part.txt": { "s3kit-part-size": "eight MiB" },
        "fine.txt": {},
      };
      for (const [key, metadata] of Object.entries(crafted)) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
      }
      for (const key of Object.keys(crafted)) {
        const localPath = join(sandbox.target, key);
        const f = new S3File(`s3://${bucket}/${key}`, {
          localPath,
          cacheDir: join(sandbox.target, "cache"),
          ...testClientOptions(server),
        });
        try {
          if (key === "fine.txt") {
            // Absent metadata: the MD5 ETag verifies, as before.
            expect((await f.download()).verified).toBe("md5");
            continue;
          }
          const error = await f.download().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isS3ObjectError(error, "object.integrity"), key).toBe(true);
          expect((error as Error).message).toMatch(/corrupt or hostile/);
          expect(await exists(localPath)).toBe(false);
        } finally {
          await f.close();
        }
      }
    } finally {
      await sandbox.remove();
    }
  });
});
