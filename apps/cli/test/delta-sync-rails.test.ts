// `s3kit delta sync` on the shared sync engine (issue 12): the delete rails a user meets through the CLI,
// against moto, and the one include/exclude table giving the same selection as photo-sync.
// Build first: `pnpm --filter s3kit... build`.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  FILTER_CASES,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli } from "./run-cli.ts";

let server: TestServer;
let bucket: string;
let raw: ObjectStore;
let work: string;

const run = (args: string[], cwd?: string) =>
  runCli(args, {
    endpoint: server.endpoint,
    env: { XDG_CACHE_HOME: join(work, "cache") },
    ...(cwd ? { cwd } : {}),
  });

beforeAll(async () => {
  if (!existsSync(join(fileURLToPath(new URL("..", import.meta.url)), "dist", "commands", "delta", "sync.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  const created = await createTestBucket(server, "cli-delta-rails");
  bucket = created.bucket;
  created.client.destroy();
  raw = openObjectStore(created.url, testClientOptions(server));
  work = await mkdtemp(join(tmpdir(), "s3kit-delta-rails-"));
});
afterAll(async () => {
  await raw?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every object key under a prefix (deltas, direct files and reference.bin alike). */
async function objects(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of raw.list({ prefix })) if (e.kind === "object") out.push(e.key);
  return out.sort();
}

/** A release-like file (text, so deltas between versions are small). */
function release(i: number): string {
  const lines: string[] = [];
  for (let n = 0; n < 400; n++) lines.push(`export const value${n} = ${(n * 7919 + i) % 104729};`);
  return lines.join("\n");
}

/** A local folder of `n` files, uploaded to `s3://bucket/<prefix>/` with `delta sync`. */
async function seeded(prefix: string, n: number): Promise<{ dir: string; url: string; names: string[] }> {
  const dir = await mkdtemp(join(work, `${prefix}-`));
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = i % 2 === 0 ? `app-${i}.tar` : `sub/notes-${i}.txt`;
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), release(i));
    names.push(name);
  }
  const url = `s3://${bucket}/${prefix}/`;
  const up = await run(["delta", "sync", dir, url, "--json"]);
  expect(up.code, up.stderr).toBe(0);
  expect(JSON.parse(up.stdout).transferred).toHaveLength(n);
  return { dir, url, names };
}

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

describe("delta sync: delete rails", () => {
  test("a missing source folder with --delete: nothing deleted, exit 1, one line naming the cause", async () => {
    const { url } = await seeded("typo", 3);
    const before = await objects("typo/");
    const out = await run(["delta", "sync", "./typo", url, "--delete"], work);
    expect(out.code).toBe(1);
    const lines = errorLines(out.stderr);
    expect(lines, out.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/typo.*(cannot be read|does not exist|ENOENT)/);
    expect(await objects("typo/")).toEqual(before);
    expect(before.length).toBeGreaterThanOrEqual(3);
  });

  test("an existing but empty folder with --delete: nothing deleted, exit 1, names --allow-empty-source", async () => {
    const { url } = await seeded("empty", 3);
    const before = await objects("empty/");
    const emptyDir = await mkdtemp(join(work, "mount-point-"));
    const out = await run(["delta", "sync", emptyDir, url, "--delete"]);
    expect(out.code).toBe(1);
    const lines = errorLines(out.stderr);
    expect(lines, out.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/--allow-empty-source/);
    expect(await objects("empty/")).toEqual(before);
    // The same in the other direction: an empty prefix never empties the local folder.
    const mirror = await mkdtemp(join(work, "mirror-"));
    await writeFile(join(mirror, "keep.txt"), "mine");
    const down = await run(["delta", "sync", `s3://${bucket}/no-such-prefix/`, mirror, "--delete"]);
    expect(down.code).toBe(1);
    expect(errorLines(down.stderr)).toHaveLength(1);
    expect(down.stderr).toMatch(/--allow-empty-source/);
    expect(existsSync(join(mirror, "keep.txt"))).toBe(true);
  });

  test("a 60 % delete stops at the share limit with both numbers; --max-delete-percent and --max-delete lift it", async () => {
    for (const [prefix, lift] of [
      ["ratio-a", ["--max-delete-percent", "60"]],
      ["ratio-b", ["--max-delete", "6"]],
    ] as const) {
      const { dir, url, names } = await seeded(prefix, 10);
      for (const name of names.slice(4)) await rm(join(dir, name));
      const before = await objects(`${prefix}/`);
      const stopped = await run(["delta", "sync", dir, url, "--delete"]);
      expect(stopped.code).toBe(1);
      const lines = errorLines(stopped.stderr);
      expect(lines, stopped.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/6 of 10\b.*60 %.*--max-delete-percent 60.*--max-delete 6/);
      expect(await objects(`${prefix}/`)).toEqual(before);

      const lifted = await run(["delta", "sync", dir, url, "--delete", ...lift, "--json"]);
      expect(lifted.code, lifted.stderr).toBe(0);
      const result = JSON.parse(lifted.stdout) as { deleted: string[] };
      expect(result.deleted.sort()).toEqual(
        names
          .slice(4)
          .map((n) => `${prefix}/${n}`)
          .sort(),
      );
      const left = await objects(`${prefix}/`);
      for (const name of names.slice(0, 4)) {
        expect(left.some((k) => k === `${prefix}/${name}` || k === `${prefix}/${name}.delta`)).toBe(true);
      }
      for (const name of names.slice(4)) {
        expect(left.some((k) => k === `${prefix}/${name}` || k === `${prefix}/${name}.delta`)).toBe(false);
      }
    }
  });
});

// The same FILTER_CASES table as apps/cli/test/sync-filters.test.ts: delta sync (both directions, moto) must
// select exactly what photo-sync selects for the same --include/--exclude.
describe.each(FILTER_CASES.map((c, i) => ({ ...c, i })))("filter: $name", (c) => {
  test("delta sync up, delta sync down and photo-sync select the table's files", async () => {
    const local = join(work, `filter-local-${c.i}`);
    for (const file of c.files) {
      await mkdir(dirname(join(local, file)), { recursive: true });
      await writeFile(join(local, file), file);
      await raw.put(`filter-${c.i}/${file.normalize("NFC")}`, file);
    }
    const filters = [...c.exclude.flatMap((g) => ["--exclude", g]), ...c.include.flatMap((g) => ["--include", g])];
    const expected = c.selected.map((f) => f.normalize("NFC")).sort();
    const selected = async (argv: string[]) => {
      const out = await run([...argv, ...filters, "--dry-run", "--json"]);
      expect(out.code, out.stderr).toBe(0);
      const parsed = JSON.parse(out.stdout) as {
        transfers?: { key: string }[];
        plan?: { transfers: { key: string }[] };
      };
      return (parsed.plan ?? parsed).transfers!.map((t) => t.key).sort();
    };
    const up = await selected(["delta", "sync", local, `s3://${bucket}/filter-empty-${c.i}/`]);
    const down = await selected(["delta", "sync", `s3://${bucket}/filter-${c.i}/`, join(work, `filter-down-${c.i}`)]);
    const photo = await selected([
      "photo-sync",
      local,
      pathToFileURL(join(work, `filter-photo-${c.i}`)).href,
      "--no-default-excludes",
    ]);
    expect(up).toEqual(expected);
    expect(down).toEqual(expected);
    expect(photo).toEqual(expected);
  });
});
