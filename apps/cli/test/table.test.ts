import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTable, defineUntypedResource } from "@toolkit/dynamo-table";
import { createDynamoDbClient } from "@toolkit/shared";
import { startDynamoDbServer, type TestServer, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.ts";

let server: TestServer;
let tableName: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI keeps its cursor secret in its config directory: a fresh one for these runs. */
const configHome = mkdtempSync(join(tmpdir(), "cli-table-config-"));

const run = (args: string[], stdin?: string, env: Record<string, string> = {}) =>
  runCli(args, {
    endpoint: server.endpoint,
    env: { XDG_CONFIG_HOME: configHome, ...env },
    ...(stdin !== undefined ? { stdin } : {}),
  });

const note = (...extra: string[]) => ["--table", tableName, "--type", "Note", "--versioned", ...extra];

function json<T = Record<string, unknown>>(r: Run): T {
  expect(r.stderr).not.toMatch(/Warning|at .*\.js:\d+/);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  server = await startDynamoDbServer();
  tableName = uniqueName("cli-table");
  const first = await run(["table", "init", "--table", tableName, "--json"]);
  expect(first.code).toBe(0);
  expect(json(first)).toMatchObject({ table: tableName, created: true });
});

describe("s3kit table", () => {
  it("init is idempotent", async () => {
    const again = await run(["table", "init", "--table", tableName, "--json"]);
    expect(again.code).toBe(0);
    expect(json(again)).toEqual({ table: tableName, created: false, addedIndexes: [] });
  });

  it("puts from stdin, gets, updates optimistically, lists versions and restores", async () => {
    const created = await run(["table", "put", ...note("--json")], JSON.stringify({ title: "a", status: "open" }));
    expect(created.code).toBe(0);
    const v1 = json(created);
    expect(v1).toMatchObject({ title: "a", status: "open", version: 1 });
    const id = String(v1.id);

    const got = await run(["table", "get", id, ...note()]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual(v1);

    const updated = await run(["table", "put", ...note("--json")], JSON.stringify({ ...v1, status: "done" }));
    expect(updated.code).toBe(0);
    expect(json(updated)).toMatchObject({ id, status: "done", version: 2 });

    // The same stale copy again: version 1 is no longer the latest.
    const stale = await run(["table", "put", ...note("--json")], JSON.stringify({ ...v1, status: "open" }));
    expect(stale.code).toBe(1);
    const error = json<{ error: { code: string; message: string } }>(stale).error;
    expect(error.code).toBe("table.versionConflict");
    expect(error.message).toContain("version 1");
    expect(error.message).toContain("version 2");

    const noVersion = await run(["table", "put", ...note()], JSON.stringify({ id, title: "x", status: "open" }));
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr.trim().split("\n")).toHaveLength(1);
    expect(noVersion.stderr).toContain("--force");

    const versions = await run(["table", "versions", id, ...note("--json")]);
    expect(versions.code).toBe(0);
    expect(json<{ versions: { version: number }[] }>(versions).versions.map((v) => v.version)).toEqual([1, 2]);

    const restored = await run(["table", "restore", id, "1", ...note("--json")]);
    expect(restored.code).toBe(0);
    expect(json(restored)).toMatchObject({ id, version: 3, status: "open", title: "a" });

    const old = await run(["table", "get", id, ...note("--version", "2", "--json")]);
    expect(json(old)).toMatchObject({ version: 2, status: "done" });
  });

  it("lists a page with a filter and prints the cursor for the next page", async () => {
    const type = ["--table", tableName, "--type", "Task"];
    for (let i = 0; i < 5; i++) {
      const r = await run([
        "table",
        "put",
        ...type,
        "--data",
        JSON.stringify({ name: `t${i}`, status: i < 4 ? "open" : "done", n: i }),
      ]);
      expect(r.code).toBe(0);
    }
    const first = await run(["table", "list", ...type, "--where", "status=open", "--limit", "2"]);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { n: number });
    expect(lines.map((l) => l.n)).toEqual([0, 1]);
    const cursor = /next page: --cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();

    const second = await run([
      "table",
      "list",
      ...type,
      "--where",
      "status=open",
      "--limit",
      "2",
      "--cursor",
      cursor!,
      "--json",
    ]);
    expect(second.code, second.stderr).toBe(0);
    const page = json<{ items: { n: number }[]; cursor?: string }>(second);
    expect(page.items.map((i) => i.n)).toEqual([2, 3]);

    const numeric = await run(["table", "list", ...type, "--where", "n=4", "--json"]);
    expect(json<{ items: { name: string }[] }>(numeric).items.map((i) => i.name)).toEqual(["t4"]);

    const foreign = await run(["table", "list", ...type, "--limit", "2", "--cursor", cursor!]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/^error: .*cursor/);
    expect(foreign.stderr.trim().split("\n")).toHaveLength(1);

    // The cursor is signed with the secret made once in the config directory (mode 0600), not one anyone
    // could derive: another secret (here from the environment) refuses it.
    const secretFile = join(configHome, "s3kit", "table-cursor-secret");
    expect(statSync(secretFile).mode & 0o077).toBe(0);
    expect(readFileSync(secretFile, "utf8").trim().length).toBeGreaterThanOrEqual(32);
    const args = ["table", "list", ...type, "--where", "status=open", "--limit", "2", "--cursor", cursor!];
    const otherSecret = await run(args, undefined, { S3KIT_TABLE_CURSOR_SECRET: "another-secret-0123456789" });
    expect(otherSecret.code).toBe(2);
    expect(otherSecret.stderr).toMatch(/cursor was altered/);
  });

  it("queries a user GSI set with --gsi and keeps it on later puts", async () => {
    const type = ["--table", tableName, "--type", "Doc"];
    const put = await run([
      "table",
      "put",
      ...type,
      "--gsi",
      "1=owner#u1,2026-01",
      "--json",
      "--data",
      JSON.stringify({ body: "b" }),
    ]);
    expect(put.code).toBe(0);
    const doc = json(put);
    const again = await run(["table", "put", ...type, "--json", "--data", JSON.stringify({ ...doc, body: "c" })]);
    expect(again.code).toBe(0);
    const q = await run([
      "table",
      "query",
      ...type,
      "--index",
      "1",
      "--pk",
      "owner#u1",
      "--sk-begins-with",
      "2026",
      "--json",
    ]);
    expect(q.code).toBe(0);
    expect(json<{ items: { id: string; body: string }[] }>(q).items).toMatchObject([{ id: doc.id, body: "c" }]);

    // A second item in the same index partition: one per page, the cursor printed for the next page.
    const other = await run([
      "table",
      "put",
      ...type,
      "--gsi",
      "1=owner#u1,2026-02",
      "--json",
      "--data",
      JSON.stringify({ body: "d" }),
    ]);
    expect(other.code).toBe(0);
    const query = ["table", "query", ...type, "--index", "1", "--pk", "owner#u1", "--limit", "1"];
    const first = await run(query);
    expect(first.code).toBe(0);
    expect((JSON.parse(first.stdout) as { body: string }).body).toBe("c");
    const cursor = /next page: --cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await run([...query, "--cursor", cursor!, "--json"]);
    expect(second.code).toBe(0);
    const page = json<{ items: { id: string; body: string }[]; cursor?: string }>(second);
    expect(page.items).toMatchObject([{ id: json(other).id, body: "d" }]);
  });

  it("a corrupt stored item fails a list with exit 1 naming its key; --skip-invalid lists the others", async () => {
    // Written by another program: a non-versioned item under a type the CLI reads as versioned (no `version`).
    const client = createDynamoDbClient(testClientOptions(server));
    try {
      const lib = createTable({ tableName, client });
      const flat = defineUntypedResource({ type: "Mixed", compress: true });
      const good = defineUntypedResource({ type: "Mixed", versioned: true });
      await lib.create(flat, { body: "bad" }, { id: "bad1" });
      await lib.create(good, { body: "good" }, { id: "good1" });
    } finally {
      client.destroy();
    }
    const mixed = ["--table", tableName, "--type", "Mixed", "--versioned"];
    const failed = await run(["table", "list", ...mixed]);
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split("\n")).toHaveLength(1);
    expect(failed.stderr).toMatch(/^error: .*pk=Mixed#bad1 sk=Mixed#bad1 is corrupt/);
    const failedJson = await run(["table", "list", ...mixed, "--json"]);
    expect(failedJson.code).toBe(1);
    expect(json<{ error: { code: string } }>(failedJson).error.code).toBe("table.corruptItem");

    const skipped = await run(["table", "list", ...mixed, "--skip-invalid"]);
    expect(skipped.code).toBe(0);
    expect(
      skipped.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(["good1"]);
    expect(skipped.stderr).toMatch(/^skipped invalid item pk=Mixed#bad1 sk=Mixed#bad1: /m);
    const skippedJson = await run(["table", "list", ...mixed, "--skip-invalid", "--json"]);
    expect(skippedJson.code).toBe(0);
    const page = json<{ items: { id: string }[]; invalid: { pk: string; sk: string; message: string }[] }>(skippedJson);
    expect(page.items.map((i) => i.id)).toEqual(["good1"]);
    expect(page.invalid).toEqual([{ pk: "Mixed#bad1", sk: "Mixed#bad1", message: expect.stringContaining("version") }]);
  });

  it("fails with one line and exit 1 on a missing item", async () => {
    const r = await run(["table", "get", "nope", ...note()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: Note nope not found$/);
    expect(r.stdout).toBe("");
  });
});
