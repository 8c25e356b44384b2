import { closeSync, existsSync, openSync, statSync, writeSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openKv } from "@toolkit/kv-store";
import { createTestBucket, startS3Server, type TestServer } from "@toolkit/shared/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.ts";

let server: TestServer;
let dir: string;

const run = (args: string[]) => runCli(args, { endpoint: server.endpoint, cwd: dir });

beforeAll(async () => {
  if (!existsSync(join(fileURLToPath(new URL("..", import.meta.url)), "dist", "commands", "kv", "push.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  dir = await mkdtemp(join(tmpdir(), "cli-kv-"));
});

describe("s3kit kv", () => {
  it("set, status, push on one replica; get, list, pull on another", async () => {
    const { url, client } = await createTestBucket(server, "cli-kv");
    client.destroy();
    const remote = `${url}dbs/notes`;
    expect((await run(["kv", "set", "user:1", '{"name":"Ada"}', "--db", "a.db", "--remote", remote])).code).toBe(0);
    expect((await run(["kv", "set", "greeting", '"hello"', "--db", "a.db"])).code).toBe(0);

    const status = await run(["kv", "status", "--db", "a.db", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ added: ["greeting", "user:1"], modified: [], deleted: [] });

    const push = await run(["kv", "push", "--db", "a.db", "--json"]); // the remote is remembered in a.db
    expect(push.code).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ pushed: 2, deleted: 0, requests: 3, conflicts: [] });

    const get = await run(["kv", "get", "user:1", "--db", "b.db", "--remote", remote, "--json"]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ key: "user:1", value: { name: "Ada" } });
    const plain = await run(["kv", "get", "greeting", "--db", "b.db"]);
    expect(plain.stdout.trim()).toBe('"hello"');

    expect((await run(["kv", "delete", "greeting", "--db", "a.db"])).code).toBe(0);
    expect((await run(["kv", "push", "--db", "a.db"])).stdout).toContain("1 deletion");
    const pull = await run(["kv", "pull", "--db", "b.db", "--json"]);
    expect(JSON.parse(pull.stdout)).toMatchObject({ deleted: 1 });
    const list = await run(["kv", "list", "--db", "b.db", "--values", "--json"]);
    expect(JSON.parse(list.stdout)).toEqual({ entries: { "user:1": { name: "Ada" } } });

    const compact = await run(["kv", "compact", "--db", "a.db", "--grace-ms", "0", "--json"]);
    expect(compact.code).toBe(0);
    expect(JSON.parse(compact.stdout)).toMatchObject({ segmentsBefore: 2, segmentsAfter: 1, liveKeys: 1 });
  });

  it("the same key changed on two replicas: --on-conflict error names it and changes nothing", async () => {
    const { url, client } = await createTestBucket(server, "cli-kv-conflict");
    client.destroy();
    const remote = `${url}dbs/shared`;
    expect((await run(["kv", "set", "k", '"base"', "--db", "x.db", "--remote", remote])).code).toBe(0);
    expect((await run(["kv", "push", "--db", "x.db"])).code).toBe(0);
    expect((await run(["kv", "pull", "--db", "y.db", "--remote", remote])).code).toBe(0);
    expect((await run(["kv", "set", "k", '"from-y"', "--db", "y.db"])).code).toBe(0);
    expect((await run(["kv", "set", "k", '"from-x"', "--db", "x.db"])).code).toBe(0); // later: the newest
    expect((await run(["kv", "push", "--db", "x.db"])).code).toBe(0);

    const refused = await run(["kv", "push", "--db", "y.db", "--on-conflict", "error", "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatchObject({
      code: "kv.conflict",
      message: expect.stringContaining('"k"'),
    });
    const status = await run(["kv", "status", "--db", "y.db", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ modified: ["k"] }); // the local edit is still there
    // A read pulls on open but never settles a conflict (with "newest" the remote would win here and the
    // unpushed local edit would be gone): it shows the local file and says why.
    const local = await run(["kv", "get", "k", "--db", "y.db"]);
    expect(local.code).toBe(0);
    expect(local.stdout.trim()).toBe('"from-y"');
    expect(local.stderr).toMatch(/not pulling: 1 key changed both here and in the remote/);

    const settled = await run(["kv", "push", "--db", "y.db", "--on-conflict", "local", "--json"]);
    expect(settled.code).toBe(0);
    expect(JSON.parse(settled.stdout)).toMatchObject({ pushed: 1, conflicts: [{ key: "k", winner: "local" }] });
    const x = await run(["kv", "pull", "--db", "x.db", "--json"]);
    expect(x.code).toBe(0);
    expect(JSON.parse((await run(["kv", "get", "k", "--db", "x.db", "--json"])).stdout)).toMatchObject({
      value: "from-y",
    });
  });

  it("errors are one line with the right exit code", async () => {
    const missing = await run(["kv", "get", "nope", "--db", "none.db"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/^error: No database at/);

    const notJson = await run(["kv", "set", "k", "not json", "--db", "c.db"]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/is not JSON/);

    const badKey = await run(["kv", "set", "", "1", "--db", "c.db", "--json"]);
    expect(badKey.code).toBe(2);
    expect(JSON.parse(badKey.stdout).error.code).toBe("kv.invalidKey");

    const noBucket = await run(["kv", "push", "--db", "c.db", "--remote", "s3://s3kit-cli-kv-no-such-bucket/db"]);
    expect(noBucket.code).toBe(1);
    expect(noBucket.stderr.trim().split("\n")).toHaveLength(1);
    expect(noBucket.stderr).toMatch(/bucket does not exist/);
  });

  it("a local file damaged inside (pages overwritten) fails get/list with one line naming the file and the fix", async () => {
    const path = join(dir, "damaged.db");
    {
      const db = await openKv({ path });
      await db.setMany(Array.from({ length: 3000 }, (_, i) => [`key${i}`, "v".repeat(200)]));
      await db.close();
    }
    // Overwrite everything past the first 64 KiB (the schema and the small meta tables live in the first pages),
    // so the file still opens and the damage shows when the kv table is read.
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(256 * 1024);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(size - 65536, 0x5a), 0, size - 65536, 65536);
    closeSync(fd);
    for (const args of [
      ["kv", "get", "key7", "--db", path],
      ["kv", "list", "--db", path],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(path);
      expect(r.stderr).toMatch(/damaged .*restore it from a backup/);
    }
    const json = await run(["kv", "get", "key7", "--db", path, "--json"]);
    expect(JSON.parse(json.stdout).error.code).toBe("kv.corruptLocal");
  });
});
