// issue 17 through the CLI: kv push refuses an endpoint that ignores conditional writes (a fault proxy that
// strips If-Match / If-None-Match in front of moto) with one line, loses nothing, and --single-writer pushes.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
  });
});
