// `s3kit object sync-up` / `sync-down` run on the shared sync engine (issue 12): the delete rails as a user
// meets them through the CLI against moto, the one include/exclude table, and hostile keys in a download.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  FILTER_CASES,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCli } from "./run-cli.ts";

let server: TestServer;
let work: string;
let bucket: string;
let client: S3Client;
let store: ObjectStore;

beforeAll(async () => {
  server = await startS3Server();
  work = await mkdtemp(join(tmpdir(), "object-sync-rails-"));
  ({ bucket, client } = await createTestBucket(server, "obj-rails"));
  store = openObjectStore(`s3://${bucket}/`, testClientOptions(server));
});
afterAll(async () => {
  await store.close();
  client.destroy();
  await rm(work, { recursive: true, force: true });
});

const run = (args: string[]) =>
  startCli(args, { endpoint: server.endpoint, cwd: work, env: { XDG_CACHE_HOME: join(work, "cache") } }).done;

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list({ prefix })) if (e.kind === "object") out.push(e.key);
  return out.sort();
}

async function folder(name: string, files: string[]): Promise<string> {
  const dir = join(work, name);
  for (const f of files) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await writeFile(join(dir, f), f);
  }
  return dir;
}

/** stderr lines that are errors (the --mirror notice is a separate `note:` line). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

describe("object sync: delete rails", () => {
  test("sync-down of a mistyped (empty) prefix succeeds with nothing done and says so, also in --json", async () => {
    await store.put("mistyped/real/a.txt", "a");
    const target = join(work, "mistyped-target");
    const human = await run(["object", "sync-down", `s3://${bucket}/mistyped/reall/`, target]);
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(
      /^warning: nothing is stored under s3:\/\/.*\/mistyped\/reall\/ .*`s3kit ls s3:\/\/.*\/mistyped\/reall\/`$/m,
    );
    const json = await run(["object", "sync-down", `s3://${bucket}/mistyped/reall/`, target, "--json", "--dry-run"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).warnings).toEqual([expect.stringMatching(/^nothing is stored under/)]);
  });

  test("sync-up of a missing folder with --mirror deletes nothing, exits 1 with one line naming the cause", async () => {
    for (const k of ["a.txt", "b.txt", "sub/c.txt"]) await store.put(`p/${k}`, k);
    const out = await run(["object", "sync-up", "./src-typo", `s3://${bucket}/p/`, "--mirror"]);
    expect(out.code, out.stderr).toBe(1);
    const errors = errorLines(out.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/src-typo/);
    expect(errors[0]).toMatch(/cannot be read \(ENOENT\)|does not exist/);
    expect(out.stderr).toMatch(/^note: --mirror is an alias of --delete/m);
    expect(await keysUnder("p/")).toEqual(["p/a.txt", "p/b.txt", "p/sub/c.txt"]);
  });

  test("sync-down of an empty prefix with --mirror deletes no local file, exits 1 naming --allow-empty-source", async () => {
    const dir = await folder("down-keep", ["x.txt", "y/z.txt"]);
    const out = await run(["object", "sync-down", `s3://${bucket}/typo/`, "./down-keep", "--mirror"]);
    expect(out.code, out.stderr).toBe(1);
    const errors = errorLines(out.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/--allow-empty-source/);
    expect(await readFile(join(dir, "x.txt"), "utf8")).toBe("x.txt");
    expect(await readFile(join(dir, "y", "z.txt"), "utf8")).toBe("y/z.txt");
  });

  test("a 60 % delete stops at the ratio guard; --max-delete-percent or --max-delete lift it", async () => {
    const all = Array.from({ length: 10 }, (_, i) => `f${i}.txt`);
    const kept = all.slice(0, 4);
    const src = await folder("ratio-src", kept);
    for (const prefix of ["r1/", "r2/"]) for (const k of all) await store.put(`${prefix}${k}`, k);
    const blocked = await run(["object", "sync-up", src, `s3://${bucket}/r1/`, "--delete"]);
    expect(blocked.code, blocked.stderr).toBe(1);
    const errors = errorLines(blocked.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/\b6\b/);
    expect(errors[0]).toMatch(/\b10\b/);
    expect(errors[0]).toMatch(/--max-delete-percent/);
    expect(errors[0]).toMatch(/--max-delete\b/);
    expect(await keysUnder("r1/")).toHaveLength(10);

    const byShare = await run([
      "object",
      "sync-up",
      src,
      `s3://${bucket}/r1/`,
      "--delete",
      "--max-delete-percent",
      "60",
    ]);
    expect(byShare.code, byShare.stderr).toBe(0);
    expect(await keysUnder("r1/")).toEqual(kept.map((k) => `r1/${k}`));

    const byCount = await run([
      "object",
      "sync-up",
      src,
      `s3://${bucket}/r2/`,
      "--delete",
      "--max-delete",
      "6",
      "--json",
    ]);
    expect(byCount.code, byCount.stderr).toBe(0);
    expect(JSON.parse(byCount.stdout)).toMatchObject({ deleted: 6, failed: 0 });
    expect(await keysUnder("r2/")).toEqual(kept.map((k) => `r2/${k}`));
  });

  test("a 60 % local delete in sync-down stops too; nothing is removed", async () => {
    const all = Array.from({ length: 10 }, (_, i) => `g${i}.txt`);
    const dir = await folder("ratio-down", all);
    for (const k of all.slice(0, 4)) await store.put(`rd/${k}`, k);
    const out = await run(["object", "sync-down", `s3://${bucket}/rd/`, dir, "--delete"]);
    expect(out.code, out.stderr).toBe(1);
    expect(errorLines(out.stderr)).toEqual([expect.stringMatching(/--max-delete-percent/)]);
    expect((await readdir(dir)).sort()).toEqual(all);
  });
});

describe.each(FILTER_CASES.map((c, i) => ({ ...c, i })))("object sync filter: $name", (c) => {
  // The same table photo-sync is held to in sync-filters.test.ts: the same flags select the same files.
  test("sync-up and sync-down select the table's files", async () => {
    const local = await folder(`filter-${c.i}`, c.files);
    for (const f of c.files) await store.put(`flt${c.i}/${f.normalize("NFC")}`, f);
    const filters = [...c.exclude.flatMap((g) => ["--exclude", g]), ...c.include.flatMap((g) => ["--include", g])];
    const expected = c.selected.map((f) => f.normalize("NFC")).sort();
    const up = await run([
      "object",
      "sync-up",
      local,
      `s3://${bucket}/flt-up${c.i}/`,
      ...filters,
      "--dry-run",
      "--json",
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout) as { transfers: { key: string }[] }).transfers.map((t) => t.key).sort()).toEqual(
      expected,
    );
    const empty = join(work, `filter-empty-${c.i}`);
    const down = await run([
      "object",
      "sync-down",
      `s3://${bucket}/flt${c.i}/`,
      empty,
      ...filters,
      "--dry-run",
      "--json",
    ]);
    expect(down.code, down.stderr).toBe(0);
    expect((JSON.parse(down.stdout) as { transfers: { key: string }[] }).transfers.map((t) => t.key).sort()).toEqual(
      expected,
    );
  });
});

test("sync-down: a key with //, NUL or a . segment is one failed item each (exit 3); the rest downloads", async () => {
  const bad = ["h/a//b.txt", "h/nul\0byte.txt", "h/a/./c.txt"];
  const good = ["h/ok.txt", "h/sub/deep.txt"];
  for (const Key of [...bad, ...good]) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
  const target = join(work, "hostile");
  const out = await run(["object", "sync-down", `s3://${bucket}/h/`, target, "--json"]);
  expect(out.code, out.stderr).toBe(3);
  const summary = JSON.parse(out.stdout) as { transferred: number; failed: number; failures: { key?: string }[] };
  expect(summary).toMatchObject({ transferred: 2, failed: 3 });
  expect(summary.failures.map((f) => f.key).sort()).toEqual(bad.map((k) => k.slice(2)).sort());
  expect(await readFile(join(target, "ok.txt"), "utf8")).toBe("h/ok.txt");
  expect(await readFile(join(target, "sub", "deep.txt"), "utf8")).toBe("h/sub/deep.txt");
  expect(existsSync(join(target, "a", "b.txt"))).toBe(false);
  expect(existsSync(join(target, "a", "c.txt"))).toBe(false);
  expect(existsSync(join(target, "nul"))).toBe(false);
});
