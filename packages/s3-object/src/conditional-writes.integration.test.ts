// Issue 17: on an endpoint that ignores If-Match / If-None-Match (moto behind a fault proxy that strips them),
// S3File still refuses to overwrite someone else's change (a HEAD first) and says so once; on plain moto the
// probe costs four requests once and nothing after.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { S3ObjectError } from "./errors.ts";
import { S3File } from "./s3-file.ts";

let server: TestServer;
let strip: FaultProxy;
let dir: string;
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(async () => {
  server = await startS3Server();
  strip = await startFaultProxy({ target: server.endpoint, faults: [{ action: { type: "stripConditionalHeaders" } }] });
  dir = await mkdtemp(join(tmpdir(), "s3o-cw-"));
  // The probe's answers are cached under the cache directory: keep them out of the user's.
  process.env.XDG_CACHE_HOME = join(dir, "xdg");
});
afterAll(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await strip.stop();
  await rm(dir, { recursive: true, force: true });
});

const codeOf = (error: unknown) => (error instanceof S3ObjectError ? error.code : String(error));
const isProbe = (path: string) => path.includes(".s3kit/probe/");

async function twoWriters(tag: string, endpoint: string, extra: Record<string, unknown> = {}) {
  const { bucket, client } = await createTestBucket(server, tag);
  const cacheDir = await mkdtemp(join(dir, "cache-"));
  const local = join(cacheDir, "doc.txt");
  const warnings: string[] = [];
  const file = new S3File(`s3://${bucket}/doc.txt`, {
    cacheDir,
    localPath: local,
    ...testClientOptions(server, endpoint),
    onWarning: (m) => warnings.push(m),
    ...extra,
  });
  /** Someone else writes the object (straight to moto). */
  const other = (body: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: "doc.txt", Body: body }));
  const remote = async () => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "doc.txt" }));
    return out.Body!.transformToString();
  };
  return { bucket, client, file, local, warnings, other, remote };
}

describe("S3File on an endpoint that ignores conditional writes", () => {
  test("an upload over a changed object and a delete of it are refused (HEAD first); one warning", async () => {
    const { file, local, warnings, other, remote, client } = await twoWriters("s3o-cw-strip", strip.endpoint);
    await other("v1 from them\n");
    await file.download();
    await other("v2 from them\n"); // changed since our download
    await writeFile(local, "ours\n");
    await expect(file.upload()).rejects.toSatisfy((e) => codeOf(e) === "object.conflict");
    expect(await remote()).toBe("v2 from them\n");
    // Again (no second probe, no second warning), and a delete of the version we saw is refused as well.
    await expect(file.upload()).rejects.toSatisfy((e) => codeOf(e) === "object.conflict");
    await expect(file.delete({ keepLocal: true })).rejects.toSatisfy((e) => codeOf(e) === "object.conflict");
    expect(await remote()).toBe("v2 from them\n");
    expect(strip.requests.filter((r) => isProbe(r.path)).map((r) => r.method)).toEqual(["PUT", "PUT", "PUT", "DELETE"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^the endpoint ${strip.endpoint} does not honour conditional PutObject .*race window.*s3kit doctor s3://`,
      ),
    );
    // After downloading their version, our upload goes through.
    await file.download({ force: true });
    await writeFile(local, "ours, merged\n");
    expect((await file.upload()).transferred).toBe(true);
    expect(await remote()).toBe("ours, merged\n");
    expect(warnings).toHaveLength(1);
    await file.close();
    client.destroy();
  });

  test("control: with conditionalWrites 'native' the stripped header lets the overwrite through", async () => {
    const { file, local, warnings, other, remote, client } = await twoWriters("s3o-cw-native", strip.endpoint, {
      conditionalWrites: "native",
    });
    await other("v1 from them\n");
    await file.download();
    await other("v2 from them\n");
    await writeFile(local, "ours\n");
    await file.upload();
    expect(await remote()).toBe("ours\n"); // their v2 is lost: what the probe's fallback prevents
    expect(warnings).toEqual([]);
    await file.close();
    client.destroy();
  });

  test("plain moto: no warning; the probe's four requests once, then none", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { file, local, warnings, other, client, bucket } = await twoWriters("s3o-cw-moto", proxy.endpoint);
      await other("v1\n");
      await file.download();
      await writeFile(local, "v2\n");
      let before = proxy.requests.length;
      await file.upload();
      expect(proxy.requests.slice(before).map((r) => `${r.method}${isProbe(r.path) ? " probe" : ""}`)).toEqual([
        "PUT probe",
        "PUT probe",
        "PUT probe",
        "DELETE probe",
        "PUT",
      ]);
      // A second object on the bucket (another S3File): the probe's answer is cached, so no probe request.
      const second = new S3File(`s3://${bucket}/new.txt`, {
        cacheDir: join(dir, "second"),
        localPath: join(dir, "new.txt"),
        ...testClientOptions(server, proxy.endpoint),
        onWarning: (m) => warnings.push(m),
      });
      await writeFile(join(dir, "new.txt"), "new\n");
      before = proxy.requests.length;
      await second.upload(); // a HEAD (never synced), then PUT with If-None-Match: *
      expect(proxy.requests.slice(before).map((r) => r.method)).toEqual(["HEAD", "PUT"]);
      expect(await readFile(join(dir, "new.txt"), "utf8")).toBe("new\n");
      expect(warnings).toEqual([]);
      await Promise.all([file.close(), second.close()]);
      client.destroy();
    } finally {
      await proxy.stop();
    }
  });

  test("an invalid conditionalWrites value is object.invalidOptions", () => {
    expect(() => new S3File("s3://b/k", { conditionalWrites: "sometimes" as never })).toThrow(
      /invalid `conditionalWrites` \("sometimes"\)/,
    );
  });
});
