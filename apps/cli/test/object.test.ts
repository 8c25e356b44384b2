// `s3kit object …` run as the built binary against the run's S3 server. Build first: `pnpm --filter s3kit... build`.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  type FaultRule,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, startCli } from "./run-cli.ts";

let server: TestServer;
let bucket: string;
let store: ObjectStore;
let home: string;

function run(args: string[], endpoint = server.endpoint, onStart?: (child: ChildProcess) => void): Promise<CliRun> {
  const { child, done } = startCli(args, { endpoint, env: { XDG_CACHE_HOME: join(home, ".cache") } });
  onStart?.(child);
  return done;
}

/**
 * Run `args` through a fault proxy with `faults`, and send `signal` to the process once the proxy has seen more
 * than `after` requests (of `method`, when given): the run's result.
 */
async function interrupt(
  args: string[],
  faults: FaultRule[],
  signal: NodeJS.Signals,
  after: { count: number; method?: string },
): Promise<CliRun> {
  const proxy = await startFaultProxy({ target: server.endpoint, faults });
  try {
    let child: ChildProcess | undefined;
    const running = run(args, proxy.endpoint, (c) => {
      child = c;
    });
    const seen = () => proxy.requests.filter((r) => after.method === undefined || r.method === after.method).length;
    await expect.poll(seen, { timeout: 30_000, interval: 50 }).toBeGreaterThan(after.count);
    child!.kill(signal);
    return await running;
  } finally {
    await proxy.stop();
  }
}

beforeAll(async () => {
  if (!existsSync(join(fileURLToPath(new URL("..", import.meta.url)), "dist", "commands", "object", "get.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  const created = await createTestBucket(server, "cli-object");
  bucket = created.bucket;
  created.client.destroy();
  store = openObjectStore(created.url, testClientOptions(server));
  home = await mkdtemp(join(tmpdir(), "s3kit-object-cli-"));
});

afterAll(async () => {
  await store?.close();
});

describe("s3kit object", () => {
  it("get downloads once, then reports unchanged; cat prints; status compares", async () => {
    await store.put("docs/readme.txt", "hello object\n");
    const url = `s3://${bucket}/docs/readme.txt`;
    const dest = join(home, "readme.txt");
    const first = await run(["object", "get", url, dest, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ transferred: true, bytes: 13, verified: "md5", localPath: dest });
    const second = await run(["object", "get", url, dest, "--json"]);
    expect(JSON.parse(second.stdout)).toMatchObject({ transferred: false, bytes: 0 });
    const cat = await run(["object", "cat", url]);
    expect(cat).toMatchObject({ code: 0, stdout: "hello object\n" });
    // The cat went through the default cache under XDG_CACHE_HOME (a dot directory).
    expect(await readFile(join(home, ".cache", "s3kit", "objects", bucket, "docs", "readme.txt"), "utf8")).toBe(
      "hello object\n",
    );
    await writeFile(dest, "changed locally\n");
    const status = await run(["object", "status", url, "--local-path", dest, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "localNewer" });
    const human = await run(["object", "status", url, "--local-path", dest]);
    expect(human.stdout).toMatch(/^localNewer: /);
  });

  it("put uploads, skips when unchanged, and refuses a concurrent change with exit 1 and one line", async () => {
    const url = `s3://${bucket}/put/data.txt`;
    const file = join(home, "data.txt");
    await writeFile(file, "v1");
    const first = await run(["object", "put", file, url, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ transferred: true });
    expect((await run(["object", "put", file, url, "--json"])).stdout).toContain('"transferred": false');
    await store.put("put/data.txt", "someone else");
    await writeFile(file, "v2");
    const conflict = await run(["object", "put", file, url]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^error: Upload of .* refused/)]);
    expect(Buffer.from(await store.getBytes("put/data.txt")).toString()).toBe("someone else");
    const json = await run(["object", "put", file, url, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "object.conflict" } });
    expect((await run(["object", "put", file, url, "--force"])).code).toBe(0);
    expect(Buffer.from(await store.getBytes("put/data.txt")).toString()).toBe("v2");
  });

  it("get of a missing object fails with exit 1; a bad URL is a usage error (exit 2)", async () => {
    const missing = await run(["object", "get", `s3://${bucket}/nope.txt`, join(home, "nope.txt")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^error: Download of s3:\/\/.*\/nope.txt failed: it does not exist; `s3kit ls s3:\/\/.*` lists what is there\.$/m,
    );
    const bad = await run(["object", "get", "s3://bucket-only/"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: Invalid object URL/);
  });

  it("sync-up then sync-down with excludes, mirror and dry run", async () => {
    const src = join(home, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a.txt"), "A");
    await writeFile(join(src, "sub", "b.txt"), "B");
    await writeFile(join(src, "x.tmp"), "T");
    const prefix = `s3://${bucket}/tree/`;
    const up = await run(["object", "sync-up", src, prefix, "--exclude", "*.tmp", "--json"]);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ transferred: 2, failed: 0 });
    const out = join(home, "out");
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "stray.txt"), "S");
    // One delete of a one-file folder is 100 %: the delete rails want --max-delete for it.
    const plan = await run(["object", "sync-down", prefix, out, "--mirror", "--max-delete", "1", "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/delete {2}stray\.txt/);
    expect(plan.stderr).toMatch(/^note: --mirror is an alias of --delete/m);
    expect(await readFile(join(out, "stray.txt"), "utf8")).toBe("S");
    const down = await run(["object", "sync-down", prefix, out, "--delete", "--max-delete", "1", "--json"]);
    expect(JSON.parse(down.stdout)).toMatchObject({ transferred: 2, deleted: 1, failed: 0 });
    expect(await readFile(join(out, "sub", "b.txt"), "utf8")).toBe("B");
    expect(existsSync(join(out, "stray.txt"))).toBe(false);
  });

  it("sync-up: the local folder is the source, a changed file replaces its object; a re-run sends nothing", async () => {
    const src = join(home, "partial");
    await mkdir(src, { recursive: true });
    await writeFile(join(src, "a.txt"), "A1");
    await writeFile(join(src, "b.txt"), "B1");
    const prefix = `s3://${bucket}/partial/`;
    expect((await run(["object", "sync-up", src, prefix])).code).toBe(0);
    await writeFile(join(src, "a.txt"), "A22");
    const result = await run(["object", "sync-up", src, prefix, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ transferred: 1, skipped: 1, failed: 0 });
    expect(Buffer.from(await store.getBytes("partial/a.txt")).toString()).toBe("A22");
    const again = await run(["object", "sync-up", src, prefix, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ transferred: 0, skipped: 2 });
  });

  it("put of a missing file or of a folder: exit 1, one line, nothing stored; an empty file and a symlink upload", async () => {
    const dir = join(home, "put-edges");
    await mkdir(join(dir, "a-folder"), { recursive: true });
    await writeFile(join(dir, "empty.bin"), "");
    await writeFile(join(dir, "target.txt"), "through a link");
    await symlink(join(dir, "target.txt"), join(dir, "link.txt"));
    const missing = await run(["object", "put", join(dir, "missing.bin"), `s3://${bucket}/edges/missing.bin`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/missing\.bin does not exist; get it with `s3kit object get` or write it first/);
    const folder = await run(["object", "put", join(dir, "a-folder"), `s3://${bucket}/edges/a-folder`]);
    expect(folder.code).toBe(1);
    expect(folder.stderr.trim().split("\n")).toHaveLength(1);
    expect(folder.stderr).toMatch(/a-folder is a folder, not a file; upload a folder with `s3kit object sync-up`/);
    expect(await store.head("edges/missing.bin")).toBeUndefined();
    expect(await store.head("edges/a-folder")).toBeUndefined();
    expect((await run(["object", "put", join(dir, "empty.bin"), `s3://${bucket}/edges/empty.bin`])).code).toBe(0);
    expect((await store.head("edges/empty.bin"))?.size).toBe(0);
    // A symlink is followed, as cp does: the object holds the target's bytes.
    expect((await run(["object", "put", join(dir, "link.txt"), `s3://${bucket}/edges/link.txt`])).code).toBe(0);
    expect(Buffer.from(await store.getBytes("edges/link.txt")).toString()).toBe("through a link");
  });

  it("kill -9 in the middle of a multipart get leaves the previous copy; a re-run gets the new version whole", async () => {
    const url = `s3://${bucket}/killed/get.bin`;
    const dir = join(home, "killed-get");
    await mkdir(dir, { recursive: true });
    const dest = join(dir, "get.bin");
    await store.put("killed/get.bin", "version 1");
    expect((await run(["object", "get", url, dest])).code).toBe(0);
    const v2 = randomBytes(20 * 1024 * 1024);
    await store.put("killed/get.bin", v2, { partSizeBytes: 8 * 1024 * 1024, multipartThresholdBytes: 8 * 1024 * 1024 });
    // The first GET (the first part) goes through; the other ranges hang until the process is killed.
    const killed = await interrupt(
      ["object", "get", url, dest],
      [
        { match: { method: "GET" }, times: 1, action: { type: "delay", ms: 0 } },
        { match: { method: "GET" }, action: { type: "delay", ms: 10_000 } },
      ],
      "SIGKILL",
      { method: "GET", count: 1 },
    );
    expect(killed.signal).toBe("SIGKILL");
    expect(await readFile(dest, "utf8")).toBe("version 1");
    expect((await run(["object", "get", url, dest])).code).toBe(0);
    expect((await readFile(dest)).equals(v2)).toBe(true);
    // The killed run's partial file is gone too: the folder holds the target only.
    expect(await readdir(dir)).toEqual(["get.bin"]);
  });

  it("kill -9 in the middle of a multipart put stores nothing; a re-run uploads the file whole", async () => {
    const url = `s3://${bucket}/killed/put.bin`;
    const file = join(home, "killed-put.bin");
    const bytes = randomBytes(20 * 1024 * 1024);
    await writeFile(file, bytes);
    // Parts hang until the process is killed.
    const killed = await interrupt(
      ["object", "put", file, url],
      [{ match: { method: "PUT" }, action: { type: "delay", ms: 10_000 } }],
      "SIGKILL",
      { method: "PUT", count: 0 },
    );
    expect(killed.signal).toBe("SIGKILL");
    expect(await store.head("killed/put.bin")).toBeUndefined();
    const again = await run(["object", "put", file, url]);
    expect(again.code, again.stderr).toBe(0);
    expect(Buffer.from(await store.getBytes("killed/put.bin")).equals(bytes)).toBe(true);
    // The incomplete upload the killed run left on the server was aborted by the re-run.
    const left: string[] = [];
    for await (const upload of store.listMultipartUploads!()) left.push(upload.key);
    expect(left.filter((key) => key === "killed/put.bin")).toEqual([]);
  });

  it("Ctrl-C during a get exits 130 and leaves the previous copy, with no temp file", async () => {
    const url = `s3://${bucket}/slow/obj.bin`;
    const dir = join(home, "slow");
    await mkdir(dir, { recursive: true });
    const dest = join(dir, "obj.bin");
    await store.put("slow/obj.bin", "version 1");
    expect((await run(["object", "get", url, dest])).code).toBe(0);
    await store.put("slow/obj.bin", "version 2");
    const result = await interrupt(
      ["object", "get", url, dest],
      [{ action: { type: "delay", ms: 10_000 } }],
      "SIGINT",
      { count: 0 },
    );
    expect(result.code).toBe(130);
    expect(await readFile(dest, "utf8")).toBe("version 1");
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp") || n.includes(".s3kit-partial-"))).toEqual([]);
  });
});
