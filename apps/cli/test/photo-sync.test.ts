import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCli } from "./run-cli.ts";

let server: TestServer;
let proxy: FaultProxy;
let work: string;

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy({ target: server.endpoint });
  work = await mkdtemp(join(tmpdir(), "photo-sync-cli-"));
});
afterAll(async () => {
  await proxy.stop();
  await rm(work, { recursive: true, force: true });
});

// The scrubbed environment and sentinel credentials of run-cli.ts (no output may show the secret), and a
// state folder of our own.
const start = (args: string[]) => startCli(args, { env: { XDG_CACHE_HOME: join(work, "cache") } });
const run = (args: string[]) => start(args).done;

async function library(tag: string, files = 6): Promise<{ dir: string; expected: Map<string, Buffer> }> {
  const dir = await mkdtemp(join(work, `${tag}-`));
  const expected = new Map<string, Buffer>();
  const put = async (rel: string, body: Buffer, keep = true) => {
    const path = join(dir, ...rel.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    if (keep) expected.set(rel.normalize("NFC"), body);
  };
  for (let i = 0; i < files; i++) await put(`2024/Shoot ${i % 2}/IMG_${i}.jpg`, randomBytes(1000 + i));
  await put("Cafe\u0301.lrcat", randomBytes(500));
  await put("Cat Previews.lrdata/x/p.lrprev", randomBytes(100), false);
  return { dir, expected };
}

async function keys(url: string): Promise<Map<string, Buffer>> {
  const store = openObjectStore(url, {
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
  });
  const out = new Map<string, Buffer>();
  for await (const e of store.list()) if (e.kind === "object") out.set(e.key, Buffer.from(await store.getBytes(e.key)));
  await store.close();
  return out;
}

describe("s3kit photo-sync", () => {
  test("backs up to S3, prints JSON with --json, and a re-run uploads nothing", async () => {
    const { dir, expected } = await library("json");
    const { url } = await createTestBucket(server, "cli-ps");
    const args = ["photo-sync", dir, `${url}Lightroom`, "--endpoint-url", server.endpoint, "--json"];
    const first = await run(args);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as { transferred: number; failed: number; excluded: number };
    expect(summary).toMatchObject({ transferred: expected.size, failed: 0, excluded: 1 });
    const stored = await keys(`${url}Lightroom/`);
    expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, body] of expected) expect(stored.get(key)?.equals(body)).toBe(true);
    const second = await run(args);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ transferred: 0, skipped: expected.size });
  });

  test("human output is a summary table; --dry-run --json prints the plan and changes nothing", async () => {
    const { dir, expected } = await library("dry");
    const target = join(work, "dry-backup");
    const dry = await run(["photo-sync", dir, `file://${target}`, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { transfers: { key: string }[]; totals: { transferFiles: number } };
    expect(plan.transfers.map((u) => u.key).sort()).toEqual([...expected.keys()].sort());
    expect(plan.totals.transferFiles).toBe(expected.size);
    const human = await run(["photo-sync", dir, target]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/uploaded\s+7 files/);
    expect(human.stdout).toMatch(/excluded\s+1/);
  });

  test("bad flags exit 2 with one line; too many deletes exit 1 and change nothing", async () => {
    const { dir } = await library("usage");
    const bad = await run(["photo-sync", dir, join(work, "x"), "--compare", "fast"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.match(/^error: /gm), bad.stderr).toHaveLength(1);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const badDest = await run(["photo-sync", dir, "s3://Bad_Bucket/x"]);
    expect(badDest.code).toBe(2);
    const { url, client, bucket } = await createTestBucket(server, "cli-maxdel");
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    for (let i = 0; i < 3; i++)
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `old${i}.jpg`, Body: "x" }));
    const many = await run([
      "photo-sync",
      dir,
      url,
      "--endpoint-url",
      server.endpoint,
      "--delete",
      "--max-delete",
      "2",
    ]);
    expect(many.code).toBe(1);
    expect(many.stderr).toMatch(/^error: Refusing to delete 3 of 3 item(?:s|\(s\)) .*limit of 2\b.*--max-delete 3/m);
    expect((await keys(url)).size).toBe(3);
  });

  test("--delete removes orphans under the prefix only; a sibling prefix and excluded files stay", async () => {
    const { dir, expected } = await library("delete");
    const { url, client, bucket } = await createTestBucket(server, "cli-delete");
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    const seeded = [
      "Lightroom Backups/old.lrcat",
      "Lightroom/gone.jpg",
      "Lightroom/notes.tmp",
      "Lightroom/x.lrcat-wal",
    ];
    for (const key of seeded) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const out = await run([
      "photo-sync",
      dir,
      `${url}Lightroom`,
      "--endpoint-url",
      server.endpoint,
      "--delete",
      "--exclude",
      "*.tmp",
      // The one object that takes part is 100 % of the backup: over the default 50 % limit.
      "--max-delete-percent",
      "100",
      "--no-state",
      "--json",
    ]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ transferred: expected.size, deleted: 1, failed: 0 });
    const stored = [...(await keys(url)).keys()].sort();
    expect(stored).toEqual(
      [
        "Lightroom Backups/old.lrcat",
        "Lightroom/notes.tmp",
        "Lightroom/x.lrcat-wal",
        ...[...expected.keys()].map((k) => `Lightroom/${k}`),
      ].sort(),
    );
  });

  test("a file that cannot be read is reported and the exit code is 3", async () => {
    const { dir } = await library("partial");
    await writeFile(join(dir, "Café.lrcat"), "same key as the NFD one"); // two names, one NFC key
    const target = join(work, "partial-backup");
    const out = await run(["photo-sync", dir, target]);
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/failed: scan .*keyCollision/);
    expect(out.stdout).toMatch(/uploaded\s+7 files/);
  });

  test("Ctrl-C stops with 130 and the summary so far; a re-run converges to the full backup", async () => {
    const { dir, expected } = await library("sigint", 40);
    // Sorted first, above the 64 MiB multipart threshold: its multipart upload is in flight at Ctrl-C.
    const big = randomBytes(65 * 1024 * 1024);
    await writeFile(join(dir, "2024", "A big.dng"), big);
    expected.set("2024/A big.dng", big);
    const { url, client, bucket } = await createTestBucket(server, "cli-sigint");
    proxy.setFaults([{ match: { method: "PUT" }, action: { type: "delay", ms: 150 } }]);
    const before = proxy.requests.length;
    const args = ["photo-sync", dir, url, "--endpoint-url", proxy.endpoint, "--concurrency", "2"];
    const { child, done } = start(args);
    while (proxy.requests.slice(before).filter((r) => r.method === "PUT").length < 4) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const interrupted = await done;
    proxy.setFaults([]);
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toMatch(/\(interrupted\)/);
    expect((await keys(url)).size).toBeLessThan(expected.size);
    const { ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(open.Uploads ?? [], "no multipart upload left open").toHaveLength(0);
    const resumed = await run(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const stored = await keys(url);
    expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, body] of expected) expect(stored.get(key)?.equals(body)).toBe(true);
  });

  test("a run killed with SIGKILL mid-multipart, then a re-run: converges, and no multipart upload is left", async () => {
    const { dir, expected } = await library("kill", 30);
    // Sorted first, above the 64 MiB multipart threshold: its multipart upload is in flight at the kill.
    const big = randomBytes(65 * 1024 * 1024);
    await writeFile(join(dir, "2024", "A big.dng"), big);
    expected.set("2024/A big.dng", big);
    const { url, client, bucket } = await createTestBucket(server, "cli-kill");
    proxy.setFaults([{ match: { method: "PUT" }, action: { type: "delay", ms: 100 } }]);
    const before = proxy.requests.length;
    const args = ["photo-sync", dir, url, "--endpoint-url", proxy.endpoint, "--concurrency", "2", "--json"];
    const { child, done } = start(args);
    while (proxy.requests.slice(before).filter((r) => r.method === "PUT").length < 4) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await done;
    proxy.setFaults([]);
    const { ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
    const left = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(left.Uploads ?? [], "kill -9 leaves the multipart upload open").toHaveLength(1);
    const resumed = await run(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as {
      transferred: number;
      skipped: number;
      multipartUploadsAborted: number;
    };
    expect(summary.skipped).toBeGreaterThan(0);
    expect(summary.transferred + summary.skipped).toBe(expected.size);
    // moto reports every upload as started in 2010, so the one-day age rule lets this one go at once.
    expect(summary.multipartUploadsAborted).toBe(1);
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(open.Uploads ?? [], "no multipart upload left").toHaveLength(0);
    const stored = await keys(url);
    expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, body] of expected) expect(stored.get(key)?.equals(body)).toBe(true);
  });
  test("an empty source folder (a disk that is not mounted) never empties the backup: exit 1, one line, the flag", async () => {
    const { dir } = await library("mounted", 4);
    const { url } = await createTestBucket(server, "cli-unmounted");
    const base = ["--endpoint-url", server.endpoint, "--no-state"];
    expect((await run(["photo-sync", dir, `${url}Lightroom`, ...base])).code).toBe(0);
    const before = await keys(url);
    const unmounted = await mkdtemp(join(work, "Volumes-Photos-"));
    const out = await run(["photo-sync", unmounted, `${url}Lightroom`, ...base, "--delete"]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split("\n"), out.stderr).toHaveLength(1);
    expect(out.stderr).toMatch(/^error: Refusing to delete: the source .* has no files .*--allow-empty-source/);
    expect((await keys(url)).size).toBe(before.size);
    const missing = await run(["photo-sync", join(work, "no-such-folder"), `${url}Lightroom`, ...base, "--delete"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Source .*no-such-folder cannot be read \(ENOENT\)/);
    expect((await keys(url)).size).toBe(before.size);
    const allowed = await run([
      "photo-sync",
      unmounted,
      `${url}Lightroom`,
      ...base,
      "--delete",
      "--allow-empty-source",
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect((await keys(url)).size).toBe(0);
  });

  test("a 60 % delete stops at the share limit with both numbers; --max-delete-percent and --max-delete lift it", async () => {
    const { dir } = await library("share", 4); // 4 photos + the catalog
    const { url, client, bucket } = await createTestBucket(server, "cli-share");
    const base = ["photo-sync", dir, url, "--endpoint-url", server.endpoint, "--no-state"];
    expect((await run(base)).code).toBe(0);
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    const seed = async () => {
      for (let i = 0; i < 8; i++)
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `gone-${i}.jpg`, Body: "x" }));
    };
    await seed(); // 8 of 13 objects have no local file: 62 %
    const stopped = await run([...base, "--delete"]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(
      /^error: Refusing to delete 8 of 13 item(?:s|\(s\)) .*\(62 %\).*--max-delete-percent 62.*--max-delete 8/m,
    );
    expect((await keys(url)).size).toBe(13);
    const byShare = await run([...base, "--delete", "--max-delete-percent", "62", "--json"]);
    expect(byShare.code, byShare.stderr).toBe(0);
    expect(JSON.parse(byShare.stdout)).toMatchObject({ deleted: 8 });
    await seed();
    const byCount = await run([...base, "--mirror", "--max-delete", "8"]);
    expect(byCount.code, byCount.stderr).toBe(0);
    expect(byCount.stderr).toMatch(/--mirror is an alias of --delete/);
    expect((await keys(url)).size).toBe(5);
  });

  test("photo-sync restore brings the backup back (bytes and mtimes); a typo'd prefix with --delete changes nothing", async () => {
    const { dir, expected } = await library("restore", 4);
    const mtime = new Date("2022-02-22T22:22:22.222Z");
    const { utimes, readFile, stat, readdir } = await import("node:fs/promises");
    for (const key of expected.keys()) {
      const path = join(dir, ...key.normalize("NFD").split("/"));
      await utimes(path, mtime, mtime).catch(() => utimes(join(dir, ...key.split("/")), mtime, mtime));
    }
    const { url } = await createTestBucket(server, "cli-restore");
    expect((await run(["photo-sync", dir, `${url}Lightroom`, "--endpoint-url", server.endpoint])).code).toBe(0);
    const target = join(work, "restored");
    const out = await run(["photo-sync", "restore", `${url}Lightroom`, target, "--endpoint-url", server.endpoint]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/downloaded\s+5 files/);
    for (const [key, body] of expected) {
      const path = join(target, ...key.split("/"));
      expect((await readFile(path)).equals(body), key).toBe(true);
      expect(Math.round((await stat(path)).mtimeMs), key).toBe(mtime.getTime());
    }
    const typo = await run([
      "photo-sync",
      "restore",
      `${url}Lightroomm`,
      target,
      "--endpoint-url",
      server.endpoint,
      "--delete",
    ]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^error: Refusing to delete: .*--allow-empty-source/);
    expect((await readdir(target)).length).toBeGreaterThan(0);
    // Without --delete the same typo restores nothing and succeeds, but says so (stderr and --json).
    const empty = await run([
      "photo-sync",
      "restore",
      `${url}Lightroomm`,
      join(work, "restored-typo"),
      "--endpoint-url",
      server.endpoint,
    ]);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toMatch(
      /^warning: nothing is stored under .*Lightroomm.*nothing to download; check the source with `s3kit ls /m,
    );
    const emptyJson = await run([
      "photo-sync",
      "restore",
      `${url}Lightroomm`,
      join(work, "restored-typo"),
      "--endpoint-url",
      server.endpoint,
      "--json",
    ]);
    expect(JSON.parse(emptyJson.stdout)).toMatchObject({
      scanned: 0,
      warnings: [expect.stringMatching(/^nothing is stored under/)],
    });
  });
  test("Ctrl-C mid-restore stops with 130 and leaves no partial file; a re-run converges", async () => {
    const { dir, expected } = await library("restore-sigint", 30);
    const big = randomBytes(17 * 1024 * 1024);
    await writeFile(join(dir, "2024", "A big.dng"), big);
    expected.set("2024/A big.dng", big);
    const { url } = await createTestBucket(server, "cli-restore-sigint");
    expect((await run(["photo-sync", dir, url, "--endpoint-url", server.endpoint])).code).toBe(0);
    const target = join(work, "restore-sigint");
    proxy.setFaults([{ match: { method: "GET" }, action: { type: "delay", ms: 150 } }]);
    const before = proxy.requests.length;
    const args = ["photo-sync", "restore", url, target, "--endpoint-url", proxy.endpoint, "--concurrency", "2"];
    const { child, done } = start(args);
    while (proxy.requests.slice(before).filter((r) => r.method === "GET").length < 5) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const interrupted = await done;
    proxy.setFaults([]);
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toMatch(/\(interrupted\)/);
    const { readdir, readFile } = await import("node:fs/promises");
    const present = (await readdir(target, { recursive: true })).map(String);
    expect(present.filter((name) => name.includes(".s3kit-partial-"))).toEqual([]);
    const resumed = await run([...args, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { transferred: number; skipped: number; failed: number };
    expect(summary.transferred + summary.skipped).toBe(expected.size);
    for (const [key, body] of expected)
      expect((await readFile(join(target, ...key.split("/")))).equals(body)).toBe(true);
  });
});
