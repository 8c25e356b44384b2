// One test per CLI message of issue 16: the input, the exit code, and the one line the user reads (CLI words:
// flags and commands, never the library's options or functions). Runs the built binary; file:// stores and
// local files only, plus moto for the bucket commands. Build first: `pnpm --filter s3kit... build`.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { HeadBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "@toolkit/shared";
import { startDynamoDbServer, startS3Server, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliOptions, type CliRun, runCli, startCli } from "./run-cli.ts";

/** Library words that must never reach a CLI user. */
const LIBRARY_WORDS =
  /flag "c"|offline: true|onConflict "|codec: "|download\(\{|upload\(\)|ensureTable\(\)|openKv:|createS3Client|S3File:|skipInvalid|singleWriter|\(s\)/;

let home: string;
let cwd: string;

async function run(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const result = await runCli(args, {
    cwd,
    ...options,
    env: { XDG_CACHE_HOME: join(home, ".cache"), XDG_CONFIG_HOME: join(home, ".config"), ...options.env },
  });
  expect(result.stdout + result.stderr).not.toMatch(LIBRARY_WORDS);
  return result;
}

/** The run's one error line (stderr holds exactly one line, starting `error: `). */
function errorLine(result: CliRun): string {
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!.slice("error: ".length);
}

/**
 * The run's one error line, where a writer to S3 may first warn that the conditional-write probe could not
 * run (it cannot in a missing bucket): that warning is allowed before it, nothing else.
 */
function onlyError(result: CliRun): string {
  const lines = result.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("warning: could not learn whether"));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!.slice("error: ".length);
}

const url = (path: string) => pathToFileURL(path).href;

beforeAll(async () => {
  if (!existsSync(new URL("../dist/messages.js", import.meta.url))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  home = await mkdtemp(join(tmpdir(), "s3kit-messages-"));
  cwd = join(home, "work");
  await mkdir(cwd);
  await writeFile(join(cwd, "afile"), "a file, not a folder\n");
  await mkdir(join(cwd, "src", "a"), { recursive: true });
  await writeFile(join(cwd, "src", "a", "one.txt"), "one\n");
});

afterAll(async () => {
  // Temp folders are left to the OS: nothing here is large.
});

describe("credentials are their own category (exit 1) naming what to set", () => {
  const noCredentials = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" };

  it("no credentials at all: the variables and --profile / AWS_PROFILE", async () => {
    const r = await run(["ls", "s3://some-bucket/x/", "--endpoint-url", "http://127.0.0.1:9"], { env: noCredentials });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile <name> (or set AWS_PROFILE) for a profile in ~/.aws/config.",
    );
  });

  it("--json says code credentials", async () => {
    const r = await run(["ls", "s3://some-bucket/", "--endpoint-url", "http://127.0.0.1:9", "--json"], {
      env: noCredentials,
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "credentials" } });
  });

  it("a --profile that has no credentials is named", async () => {
    const r = await run(["ls", "s3://some-bucket/", "--endpoint-url", "http://127.0.0.1:9", "--profile", "nope"], {
      env: noCredentials,
    });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      /^no AWS credentials for the profile "nope" \(--profile \/ AWS_PROFILE\): .*aws configure --profile nope/,
    );
  });
});

describe("inputs are named in CLI terms", () => {
  it("s3:/x (one slash) says it needs two, exit 2", async () => {
    const r = await run(["ls", "s3:/x"]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe(
      "Invalid location `s3:/x`: `s3:` is followed by two slashes. Use s3://bucket/prefix or file:///absolute/dir.",
    );
  });

  it("a bad --endpoint-url names the flag, exit 2", async () => {
    const r = await run(["object", "get", "s3://some-bucket/k", "./k", "--endpoint-url", "notaurl"]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe(
      'invalid --endpoint-url "notaurl": give an http:// or https:// URL, e.g. --endpoint-url http://localhost:9000.',
    );
  });

  it("delta cp of a missing file says it does not exist, exit 1", async () => {
    const r = await run(["delta", "cp", "./missing.tar", `${url(join(home, "deltas"))}/`]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("./missing.tar does not exist; give a file to copy (or a folder with --recursive).");
  });

  it("delta cp -r of a missing folder says it does not exist, exit 1", async () => {
    const r = await run(["delta", "cp", "-r", "./missing", `${url(join(home, "deltas"))}/`]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("./missing does not exist; give a folder to copy with --recursive.");
  });

  it("delta cp of a stored file that is not there names delta ls of its folder, exit 1", async () => {
    const store = url(join(home, "deltas-missing"));
    await writeFile(join(cwd, "app.zip"), "zip bytes");
    expect((await run(["delta", "cp", "./app.zip", `${store}/releases/app/`])).code).toBe(0);
    const r = await run(["delta", "cp", `${store}/releases/app/none.zip`, "./none.zip"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      `No file none.zip in ${store}/releases/app: \`s3kit delta ls ${store}/releases/app/\` lists what is there.`,
    );
  });
});

describe("kv names flags and commands", () => {
  it("a missing database: `s3kit kv set` creates it, exit 1", async () => {
    const r = await run(["kv", "get", "k", "--db", "./none.db"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "No database at ./none.db; `s3kit kv set <key> <value> --db <path>` creates it, or give --remote of an existing database.",
    );
  });

  it("a conflict names kv pull --on-conflict; a codec mismatch names --codec", async () => {
    const remote = `${url(join(home, "kv-remote"))}/notes`;
    await mkdir(join(home, "kv-remote"));
    const ok = async (args: string[]) => expect((await run(args)).code).toBe(0);
    await ok(["kv", "set", "k", '"a"', "--db", "a.db", "--remote", remote]);
    await ok(["kv", "push", "--db", "a.db"]);
    await ok(["kv", "pull", "--db", "b.db", "--remote", remote]);
    await ok(["kv", "set", "k", '"b"', "--db", "a.db"]);
    await ok(["kv", "push", "--db", "a.db"]);
    await ok(["kv", "set", "k", '"c"', "--db", "b.db"]);

    const conflict = await run(["kv", "pull", "--db", "b.db", "--on-conflict", "error"]);
    expect(conflict.code).toBe(1);
    expect(errorLine(conflict)).toBe(
      `1 key changed both in b.db and in ${remote}/ since the last pull: "k"; keep this file's values with \`s3kit kv pull --db b.db --on-conflict local\` (or \`remote\` for the remote's, \`newest\` for the later write of each), then \`s3kit kv push --db b.db\`.`,
    );

    const codec = await run(["kv", "get", "k", "--db", "a.db", "--codec", "string"]);
    expect(codec.code).toBe(1);
    expect(errorLine(codec)).toBe(
      `The remote ${remote}/ was written with codec \`json\`, not \`string\`; use --codec json.`,
    );
  });
});

describe("table names s3kit table init with the table", () => {
  it("a table that does not exist: exit 1, the init command for it", async () => {
    const server = await startDynamoDbServer();
    const table = uniqueName("cli-missing-table");
    const r = await run(["table", "list", "--table", table, "--type", "Note"], { endpoint: server.endpoint });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      `list Note: table ${table} does not exist; create it with \`s3kit table init --table ${table}\``,
    );
  });
});

describe("object names object put / object get --force", () => {
  it("a get over local edits: exit 1, one line with both commands", async () => {
    const store = join(home, "objects");
    await mkdir(store);
    await writeFile(join(cwd, "v1.txt"), "v1\n");
    const target = `${url(store)}/obj.txt`;
    expect((await run(["object", "put", "./v1.txt", target])).code).toBe(0);
    expect((await run(["object", "get", target, "./obj.txt"])).code).toBe(0);
    await writeFile(join(cwd, "obj.txt"), "edited\n");
    const r = await run(["object", "get", target, "./obj.txt"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      `Download of ${target}: the local copy ${join(cwd, "obj.txt")} has changes not uploaded; upload them with \`s3kit object put\`, or discard them with \`s3kit object get --force\`.`,
    );
  });
});

describe("a missing object or bucket is said in words, once, with the command that helps", () => {
  it("object get of a key that is not there: exit 1, the listing to look at", async () => {
    const store = join(home, "missing-store");
    await mkdir(join(store, "reports"), { recursive: true });
    const target = `${url(store)}/reports/q3.csv`;
    const r = await run(["object", "get", target, "./q3.csv"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      `Download of ${target} failed: it does not exist; \`s3kit ls ${url(store)}/reports/\` lists what is there.`,
    );
  });
});

describe("a destination that is a file fails before the first transfer (exit 1, one line)", () => {
  let source: string;
  beforeAll(async () => {
    source = `${url(join(home, "backup"))}`;
    expect((await run(["photo-sync", "./src", source])).code).toBe(0);
  });

  it("photo-sync restore into a file", async () => {
    const r = await run(["photo-sync", "restore", source, "./afile"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "the destination ./afile is a file, not a folder; give a folder to restore into (nothing was transferred).",
    );
  });

  it("photo-sync backup into a file:// that is a file", async () => {
    const r = await run(["photo-sync", "./src", url(join(cwd, "afile"))]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      `the destination ${join(cwd, "afile")} is a file, not a folder; give a folder to back up into (nothing was transferred).`,
    );
  });

  it("object sync-down into a file, and below a file", async () => {
    const r = await run(["object", "sync-down", source, "./afile"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "the destination ./afile is a file, not a folder; give a folder to download into (nothing was transferred).",
    );
    const below = await run(["object", "sync-down", source, "./afile/sub"]);
    expect(below.code).toBe(1);
    expect(errorLine(below)).toBe(
      `the destination ./afile/sub cannot be a folder: ${join(cwd, "afile")} is a file; give another folder to download into (nothing was transferred).`,
    );
  });

  it("delta cp -r into a file", async () => {
    const deltas = `${url(join(home, "deltas-r"))}/set/`;
    expect((await run(["delta", "cp", "-r", "./src", deltas])).code).toBe(0);
    const r = await run(["delta", "cp", "-r", deltas, "./afile"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "the destination ./afile is a file, not a folder; give a folder to copy into (nothing was transferred).",
    );
  });

  it("a --state-file that is a folder is a usage error (exit 2)", async () => {
    const r = await run(["photo-sync", "./src", source, "--state-file", home]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe(
      `--state-file ${home} is a folder; give a file path (e.g. ${join(home, "s3kit-state.json")}).`,
    );
  });
});

describe("excluded folders", () => {
  it("a whole excluded .lrdata folder counts as 1, and the summary says a folder counts as 1", async () => {
    const lib = join(home, "lib-excluded");
    await mkdir(join(lib, "Cat Previews.lrdata", "0"), { recursive: true });
    for (const n of [1, 2, 3]) await writeFile(join(lib, "Cat Previews.lrdata", "0", `p${n}.lrprev`), "p");
    await writeFile(join(lib, "IMG_1.jpg"), "jpg");
    const plan = await run(["photo-sync", lib, url(join(home, "lib-excluded-dst")), "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^ {2}excluded +1 {2}\(files or whole folders: a folder counts as 1\)$/m);
    const done = await run(["photo-sync", lib, url(join(home, "lib-excluded-dst"))]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^ {2}excluded +1 {2}\(files or whole folders: a folder counts as 1\)$/m);
    expect(done.stdout).toMatch(/uploaded\s+1 file\b/);
  });
});

describe("no region is its own category", () => {
  it("ls with no region (unset, or set empty) and no endpoint: exit 1, what to set", async () => {
    // An undefined value leaves the variable out of the child's environment.
    const unset = { AWS_REGION: undefined as unknown as string };
    for (const env of [unset, { AWS_REGION: "" }]) {
      const r = await run(["ls", "s3://some-bucket/", "--json"], { env });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toEqual({
        code: "region",
        message:
          "no AWS region set: pass --region <name>, set AWS_REGION, or set `region` for the profile in ~/.aws/config.",
      });
    }
  });
});

describe("counts agree with their noun", () => {
  it("photo-sync of one file says 1 file", async () => {
    const r = await run(["photo-sync", "./src", url(join(home, "plural"))]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/scanned\s+1 file\b/);
    expect(r.stdout).not.toMatch(/\b1 files\b/);
  });
});

describe("mb and rb against the S3 server", () => {
  it("mb makes a bucket; a second mb says it exists (exit 1); rb refuses a non-empty bucket unless --force", async () => {
    const server = await startS3Server();
    const client = createS3Client(testClientOptions(server));
    try {
      const bucket = uniqueName("cli-mb");
      const at = { endpoint: server.endpoint };
      const made = await run(["mb", `s3://${bucket}`, "--json"], at);
      expect(made.code).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ bucket, created: true });
      await client.send(new HeadBucketCommand({ Bucket: bucket }));

      const again = await run(["mb", `s3://${bucket}`], at);
      expect(again.code).toBe(1);
      expect(errorLine(again)).toBe(`s3://${bucket} already exists (it is yours); nothing changed.`);

      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "a/one.txt", Body: "1" }));
      const refused = await run(["rb", `s3://${bucket}`], at);
      expect(refused.code).toBe(1);
      expect(errorLine(refused)).toBe(
        `s3://${bucket} is not empty (1 object); nothing was deleted. Pass --force to delete every object and the bucket.`,
      );
      await client.send(new HeadBucketCommand({ Bucket: bucket })); // still there

      const forced = await run(["rb", `s3://${bucket}`, "--force", "--json"], at);
      expect(forced.code).toBe(0);
      expect(JSON.parse(forced.stdout)).toEqual({ bucket, removed: true, deletedObjects: 1 });
      await expect(client.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toThrow();

      const missing = await run(["rb", `s3://${bucket}`], at);
      expect(missing.code).toBe(1);
      expect(errorLine(missing)).toBe(`s3://${bucket} does not exist; check the name and --endpoint-url.`);

      // A missing bucket elsewhere: said once, with mb.
      await writeFile(join(cwd, "up.txt"), "up\n");
      const put = await run(["object", "put", "./up.txt", `s3://${bucket}/up.txt`], at);
      expect(put.code).toBe(1);
      expect(onlyError(put)).toBe(
        `Upload of s3://${bucket}/up.txt failed: the bucket ${bucket} does not exist; make it with \`s3kit mb s3://${bucket}\`, or check the name and --endpoint-url.`,
      );
      const kv = await run(["kv", "get", "k", "--db", "./nb.db", "--remote", `s3://${bucket}/dbs/x`], at);
      expect(kv.code).toBe(1);
      expect(onlyError(kv)).toBe(
        `Cannot read the manifest at s3://${bucket}/dbs/x/: the bucket ${bucket} does not exist; make it with \`s3kit mb s3://${bucket}\`, or check the name and --endpoint-url.`,
      );
      const list = await run(["ls", `s3://${bucket}/`], at);
      expect(list.code).toBe(1);
      expect(errorLine(list)).toBe(
        `List s3://${bucket}/ failed: the bucket ${bucket} does not exist; make it with \`s3kit mb s3://${bucket}\`, or check the name and --endpoint-url.`,
      );
    } finally {
      client.destroy();
    }
  });

  it("mb and rb take a bucket only (exit 2)", async () => {
    const prefix = await run(["mb", "s3://some-bucket/prefix/"]);
    expect(prefix.code).toBe(2);
    expect(errorLine(prefix)).toBe(
      "mb takes a bucket without a prefix: s3://some-bucket, not s3://some-bucket/prefix/.",
    );
    const file = await run(["rb", "file:///tmp/x"]);
    expect(file.code).toBe(2);
    expect(errorLine(file)).toBe(
      "rb takes s3://bucket, not file:///tmp/x (a file:// store is a folder: create or remove it as one).",
    );
  });
});

describe("consistent flags and help", () => {
  it("object status takes the local copy as a positional, like get and put", async () => {
    const store = join(home, "status-store");
    await mkdir(store);
    await writeFile(join(cwd, "s.txt"), "s\n");
    const target = `${url(store)}/s.txt`;
    expect((await run(["object", "put", "./s.txt", target])).code).toBe(0);
    const r = await run(["object", "status", target, "./s.txt", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "same", localPath: join(cwd, "s.txt") });
  });

  it("--dryrun is --dry-run in photo-sync too", async () => {
    const r = await run(["photo-sync", "./src", url(join(home, "dryrun-target")), "--dryrun", "--json"]);
    expect(r.code).toBe(0);
    expect(existsSync(join(home, "dryrun-target", "a", "one.txt"))).toBe(false);
  });

  it("topic pages end with examples; --json help names the shape", async () => {
    for (const topic of ["kv", "delta", "object", "table"]) {
      const page = await run([topic]);
      expect(page.stdout, topic).toMatch(new RegExp(`EXAMPLES\\n\\s+\\$ s3kit ${topic} `));
    }
    const help = await run(["kv", "get", "--help"]);
    expect(help.stdout.replace(/\s+/g, " ")).toContain(
      "--json Print JSON on stdout instead of text: { key, value, modified }",
    );
  });
});

describe("photo-sync --json on Ctrl-C", () => {
  it("prints the error and the summary so far (exit 130)", async () => {
    const src = join(home, "many");
    await mkdir(src);
    for (let i = 0; i < 1500; i++) await writeFile(join(src, `f${i}.jpg`), `${i}\n`);
    const dst = join(home, "many-dst");
    const { child, done } = startCli(["photo-sync", src, url(dst), "--json", "--concurrency", "1"], {
      env: { XDG_CACHE_HOME: join(home, ".cache") },
    });
    // Interrupt once a few files are there (a condition, not a time).
    for (;;) {
      const copied = existsSync(dst) ? (await readdir(dst)).length : 0;
      if (copied >= 5 || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    const body = JSON.parse(r.stdout);
    expect(body.error).toMatchObject({ code: "photoSync.aborted" });
    expect(body.result).toMatchObject({ aborted: true, scanned: 1500 });
    expect(body.result.transferred).toBeGreaterThan(0);
  });
});
