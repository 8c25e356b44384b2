// issue 17 through the CLI: kv push refuses an endpoint that ignores conditional writes (a fault proxy that
// strips If-Match / If-None-Match in front of moto) with one line, loses nothing, and --single-writer pushes.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.ts";

let server: TestServer;
let strip: FaultProxy;
let dir: string;

const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");
const env = () => ({ XDG_CACHE_HOME: join(dir, "cache") });
const viaStrip = (args: string[]) => runCli(args, { endpoint: strip.endpoint, cwd: dir, env: env() });
const direct = (args: string[]) => runCli(args, { endpoint: server.endpoint, cwd: dir, env: env() });

beforeAll(async () => {
  if (!existsSync(join(fileURLToPath(new URL("..", import.meta.url)), "dist", "commands", "kv", "push.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  strip = await startFaultProxy({ target: server.endpoint, faults: [{ action: { type: "stripConditionalHeaders" } }] });
  dir = await mkdtemp(join(tmpdir(), "cli-unsafe-"));
});
afterAll(async () => {
  await strip?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("kv push on a store that ignores conditional writes", () => {
  it("two replicas are refused with one clear line, nothing is lost, --single-writer pushes", async () => {
    const { url, client } = await createTestBucket(server, "cli-unsafe");
    client.destroy();
    const remote = `${url}dbs/shared`;
    expect((await viaStrip(["kv", "set", "from-a", "1", "--db", "a.db", "--remote", remote])).code).toBe(0);
    expect((await viaStrip(["kv", "set", "from-b", "2", "--db", "b.db", "--remote", remote])).code).toBe(0);

    for (const db of ["a.db", "b.db"]) {
      const refused = await viaStrip(["kv", "push", "--db", db]);
      expect(refused.code, db).toBe(1);
      expect(refused.stdout).toBe("");
      expect(lines(refused.stderr), db).toEqual([
        expect.stringMatching(
          new RegExp(
            `^error: Refusing to push to ${remote}/: the endpoint ${strip.endpoint} ignores conditional PutObject .*--single-writer`,
          ),
        ),
      ]);
    }
    const json = await viaStrip(["kv", "push", "--db", "a.db", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "kv.unsafeStore", message: expect.any(String) } });
    // Nothing was written remotely and nothing was lost locally: both changes are still pending.
    for (const [db, key] of [
      ["a.db", "from-a"],
      ["b.db", "from-b"],
    ] as const) {
      const status = await direct(["kv", "status", "--db", db, "--json"]);
      expect(JSON.parse(status.stdout)).toMatchObject({ added: [key] });
    }
    expect((await direct(["kv", "list", "--db", "reader.db", "--remote", remote, "--json"])).code).not.toBe(0);

    const single = await viaStrip(["kv", "push", "--db", "a.db", "--single-writer", "--json"]);
    expect(single.code).toBe(0);
    expect(JSON.parse(single.stdout)).toMatchObject({ pushed: 1 });
    const read = await direct(["kv", "get", "from-a", "--db", "reader2.db", "--remote", remote, "--json"]);
    expect(JSON.parse(read.stdout)).toMatchObject({ key: "from-a", value: 1 });

    // compact rewrites the manifest too: the same rail, the same way past it.
    const compact = await viaStrip(["kv", "compact", "--db", "a.db", "--grace-ms", "0"]);
    expect(compact.code).toBe(1);
    expect(lines(compact.stderr)).toEqual([
      expect.stringMatching(/^error: Refusing to compact .*ignores conditional PutObject.*--single-writer/),
    ]);
    const compacted = await viaStrip(["kv", "compact", "--db", "a.db", "--grace-ms", "0", "--single-writer", "--json"]);
    expect(compacted.code).toBe(0);
    expect(JSON.parse(compacted.stdout)).toMatchObject({ liveKeys: 1 });
    const after = await direct(["kv", "get", "from-a", "--db", "reader3.db", "--remote", remote, "--json"]);
    expect(JSON.parse(after.stdout)).toMatchObject({ key: "from-a", value: 1 });
  });
});

// s3-object and delta-store do not refuse such an endpoint: they check conditional writes with a HEAD first and
// say so once, as `warning: …` on stderr and under `warnings` in --json.
describe("object and delta writes on a store that ignores conditional writes", () => {
  const warningLine = (url: string) =>
    new RegExp(
      `^warning: the endpoint ${strip.endpoint} does not honour conditional PutObject .*race window.*s3kit doctor ${url}`,
    );

  it("object put: a change of someone else's is still refused; the warning once, also in --json", async () => {
    const { bucket, url, client } = await createTestBucket(server, "cli-cw-object");
    const target = `${url}docs/a.txt`;
    const local = join(dir, "object-a.txt");
    await writeFile(local, "v1\n");
    const first = await viaStrip(["object", "put", local, target, "--json"]);
    expect(first.code).toBe(0);
    const json = JSON.parse(first.stdout);
    expect(json).toMatchObject({ transferred: true, warnings: [expect.stringMatching(/race window/)] });
    expect(json.warnings).toHaveLength(1);
    expect(`warning: ${json.warnings[0]}`).toMatch(warningLine(url));
    expect(first.stderr).toBe("");

    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "docs/a.txt", Body: "someone else\n" }));
    await writeFile(local, "v2\n");
    const refused = await viaStrip(["object", "put", local, target]);
    expect(refused.code).toBe(1);
    expect(lines(refused.stderr)).toEqual([
      expect.stringMatching(warningLine(url)),
      expect.stringMatching(/^error: Upload of .* refused/),
    ]);
    const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/a.txt" }));
    expect(await body.Body!.transformToString()).toBe("someone else\n");

    // Against plain moto: no warning, an empty `warnings`.
    await writeFile(local, "v3\n");
    const plain = await direct(["object", "put", local, `${url}docs/b.txt`, "--json"]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ transferred: true, warnings: [] });
    expect(plain.stderr).toBe("");
    client.destroy();
  });

  it("delta cp and delta rm: the warning once on stderr and under warnings in --json; none on plain moto", async () => {
    const { url, client } = await createTestBucket(server, "cli-cw-delta");
    client.destroy();
    const file = join(dir, "release-1.tar");
    await writeFile(file, Buffer.alloc(200_000, 7));
    const cp = await viaStrip(["delta", "cp", file, `${url}rel/app/`, "--json"]);
    expect(cp.code).toBe(0);
    const put = JSON.parse(cp.stdout);
    expect(put).toMatchObject({ stored: "reference", warnings: [expect.any(String)] });
    expect(put.warnings).toHaveLength(1);
    expect(`warning: ${put.warnings[0]}`).toMatch(warningLine(url));

    const human = await viaStrip(["delta", "cp", file, `${url}rel/other/`]);
    expect(human.code).toBe(0);
    expect(lines(human.stderr)).toEqual([expect.stringMatching(warningLine(url))]);

    const removed = await viaStrip(["delta", "rm", `${url}rel/other/release-1.tar`, "--json"]);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ referenceDeleted: true, warnings: [expect.any(String)] });

    const plain = await direct(["delta", "cp", file, `${url}rel/plain/`, "--json"]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ stored: "reference", warnings: [] });
    expect(plain.stderr).toBe("");
  });
});
