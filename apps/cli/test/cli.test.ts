import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openObjectStore } from "@toolkit/shared";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  type FaultProxy,
  HOSTILE_SECRET,
  type HostileSandbox,
  type HostileSeed,
  seedHostileStore,
  snapshotTree,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_ACCESS_KEY_ID, CLI_SECRET, startCli } from "./run-cli.ts";

const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, "package.json"), "utf8")) as { version: string }).version;

const start = (args: string[], env: Record<string, string> = {}) => startCli(args, { env, cwd: CLI_DIR });
const run = (args: string[], env: Record<string, string> = {}) => start(args, env).done;

const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");

let server: TestServer;
let bucket: string;
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(CLI_DIR, "dist", "commands", "ls.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  const created = await createTestBucket(server, "cli");
  bucket = created.bucket;
  created.client.destroy();
  const store = openObjectStore(created.url, testClientOptions(server));
  await store.put("top.txt", "hello");
  await store.put("photos/2024/a.jpg", new Uint8Array(1234));
  await store.put("photos/2024/b.jpg", new Uint8Array(10));
  await store.put("photos/cover.png", "png");
  await store.close();

  dir = await mkdtemp(join(tmpdir(), "s3kit-cli-"));
  await mkdir(join(dir, "sub", "deep"), { recursive: true });
  await writeFile(join(dir, "one.txt"), "one");
  await writeFile(join(dir, "sub", "two.txt"), "two!");
  await writeFile(join(dir, "sub", "deep", "three.txt"), "three");
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("help and version", () => {
  it("--help lists every topic and command with examples", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    const out = result.stdout;
    for (const name of ["kv", "table", "photo-sync", "delta", "object", "ls", "doctor"]) {
      expect(out).toMatch(new RegExp(`^ {2}${name} `, "m"));
    }
    expect(out).toContain("EXAMPLES");
    expect(out).toContain("$ s3kit ls s3://");
    expect(out).toContain("$ s3kit doctor");
  });

  it("--version prints the package version", async () => {
    const result = await run(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`s3kit/${VERSION}`);
  });

  it("an unknown command is a usage error with a suggestion", async () => {
    const result = await run(["lss", "s3://x"]);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: unknown command `s3kit lss`.*s3kit ls`/)]);
  });

  it("a missing argument or unknown flag exits 2 with one line", async () => {
    const unknown = await run(["ls", dir, "--no-such-flag"]);
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual([expect.stringMatching(/^error: Nonexistent flag: --no-such-flag/)]);
    expect(unknown.stdout).toBe("");
  });
});

describe("ls file://", () => {
  it("lists one level: objects and PRE prefixes", async () => {
    const result = await run(["ls", pathToFileURL(dir).href]);
    expect(result.code).toBe(0);
    const out = lines(result.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +3 one\.txt$/);
    expect(out[1]).toMatch(/^ +PRE sub\/$/);
  });

  it("accepts a plain path and --recursive --json prints only JSON", async () => {
    const result = await run(["ls", dir, "--recursive", "--json"]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      location: pathToFileURL(dir).href,
      recursive: true,
      objects: 3,
      prefixes: 0,
      totalBytes: 12,
    });
    expect(json.entries.map((e: { key: string }) => e.key)).toEqual(["one.txt", "sub/deep/three.txt", "sub/two.txt"]);
  });

  it("a missing directory fails with exit 1", async () => {
    const result = await run(["ls", join(dir, "missing")]);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([expect.stringContaining("No such directory")]);
  });
});

describe("pipes", () => {
  it("a reader that closes early (`| head`) ends the command quietly with 0", async () => {
    const many = await mkdtemp(join(tmpdir(), "s3kit-cli-epipe-"));
    try {
      await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(many, `file-${i}.txt`), "x")));
      const { child, done } = startCli(["ls", many, "--recursive"]);
      child.stdout?.once("data", () => child.stdout?.destroy());
      const result = await done;
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
    } finally {
      await rm(many, { recursive: true, force: true });
    }
  });
});

describe("ls s3://", () => {
  it("lists one level in a human table", async () => {
    const result = await run(["ls", `s3://${bucket}/`, "--endpoint-url", server.endpoint]);
    expect(result.code).toBe(0);
    const out = lines(result.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/PRE photos\/$/);
    expect(out[1]).toMatch(/ 5 top\.txt$/);
  });

  it("lists a prefix with --json (only JSON on stdout)", async () => {
    const result = await run(["ls", `s3://${bucket}/photos`, "--endpoint-url", server.endpoint, "--json"]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.location).toBe(`s3://${bucket}/photos/`);
    expect(json.entries).toEqual([
      { kind: "prefix", prefix: "2024/" },
      expect.objectContaining({ kind: "object", key: "cover.png", size: 3 }),
    ]);
    expect(json).toMatchObject({ objects: 1, prefixes: 1, totalBytes: 3 });
  });

  it("--recursive lists every object below the location", async () => {
    const result = await run(["ls", `s3://${bucket}/photos/`, "-r", "--json"], {
      AWS_ENDPOINT_URL_S3: server.endpoint,
    });
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.entries.map((e: { key: string }) => e.key)).toEqual(["2024/a.jpg", "2024/b.jpg", "cover.png"]);
    expect(json.totalBytes).toBe(1234 + 10 + 3);
  });

  it("without a location, lists the buckets", async () => {
    const result = await run(["ls", "--endpoint-url", server.endpoint, "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).buckets).toContainEqual(expect.objectContaining({ name: bucket }));
  });

  it("a bad location exits 2 with one line naming the input", async () => {
    const result = await run(["ls", "s3://Not_A_Bucket/x"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: .*s3:\/\/Not_A_Bucket\/x/)]);
  });

  it("a bad location with --json prints the error as JSON on stdout", async () => {
    const result = await run(["ls", "ftp://host/dir", "--json"]);
    expect(result.code).toBe(2);
    const json = JSON.parse(result.stdout);
    expect(json).toEqual({ error: { code: "invalidLocation", message: expect.stringContaining("ftp://host/dir") } });
  });

  it("a missing bucket exits 1: one line naming s3kit mb; --json keeps the code noSuchBucket", async () => {
    const result = await run(["ls", "s3://s3kit-missing-bucket-4711/", "--endpoint-url", server.endpoint]);
    expect(result.code).toBe(1);
    const err = lines(result.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^error: .*the bucket s3kit-missing-bucket-4711 does not exist; make it with `s3kit mb/);
    const json = await run(["ls", "s3://s3kit-missing-bucket-4711/", "--endpoint-url", server.endpoint, "--json"]);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "noSuchBucket" });
    expect(result.stderr).not.toContain("    at "); // no stack trace without --debug
  });

  it("--debug adds the stack trace", async () => {
    const result = await run(["ls", "s3://s3kit-missing-bucket-4711/", "--endpoint-url", server.endpoint, "--debug"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*the bucket s3kit-missing-bucket-4711 does not exist/m);
    expect(result.stderr).toContain("    at ");
  });
});

describe("doctor", () => {
  it("--json reports the resolution and never prints the secret", async () => {
    const result = await run(["doctor", "--json", "--endpoint-url", server.endpoint]);
    expect(`${result.stdout}${result.stderr}`).not.toContain(CLI_SECRET);
    expect(`${result.stdout}${result.stderr}`).not.toContain(CLI_ACCESS_KEY_ID);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: true,
      problems: [],
      node: { version: process.versions.node, supported: true },
      region: { value: "us-east-1", source: "AWS_REGION" },
      endpoints: { s3: { value: server.endpoint, source: "--endpoint-url" } },
      credentials: { resolved: true, accessKeyId: "****WXYZ", source: expect.stringContaining("environment") },
      s3: { reachable: true, listBuckets: "ok" },
      deltaEngines: { zstd: { available: true } },
    });
    // The wasm engine ships with the CLI; the native binary is there exactly when PATH has one.
    const binaryOnPath = spawnSync("xdelta3", ["-V"]).error === undefined;
    expect(report.deltaEngines.xdelta3Binary.available).toBe(binaryOnPath);
    expect(report.deltaEngines.xdelta3Wasm.available).toBe(true);
  });

  it("human output never prints the secret either, even with --debug", async () => {
    const result = await run(["doctor", "--debug"], { AWS_ENDPOINT_URL: server.endpoint });
    expect(`${result.stdout}${result.stderr}`).not.toContain(CLI_SECRET);
    expect(`${result.stdout}${result.stderr}`).not.toContain(CLI_ACCESS_KEY_ID);
    expect(result.stderr).toContain("debug: "); // the SDK's debug lines were there to leak nothing
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^credentials +environment variables .*key \*\*\*\*WXYZ/m);
    expect(result.stdout).toMatch(/^s3 endpoint +\S+ \(AWS_ENDPOINT_URL\)/m);
  });

  it("exits 1 and names the problem when the endpoint does not answer", async () => {
    const closed = await startFaultProxy({ target: server.endpoint });
    const endpoint = closed.endpoint;
    await closed.stop(); // nothing listens there any more
    const result = await run(["doctor", "--json", "--endpoint-url", endpoint]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(false);
    expect(report.s3.reachable).toBe(false);
    expect(report.problems).toContainEqual(expect.stringContaining(endpoint));
  });
});

describe("doctor s3://bucket/prefix probes the store (issue 17)", () => {
  let cacheHome: string;
  let strip: FaultProxy;
  beforeAll(async () => {
    cacheHome = await mkdtemp(join(tmpdir(), "s3kit-cli-probe-cache-"));
    strip = await startFaultProxy({
      target: server.endpoint,
      faults: [{ action: { type: "stripConditionalHeaders" } }],
    });
  });
  afterAll(async () => {
    await strip?.stop();
    await rm(cacheHome, { recursive: true, force: true });
  });

  it("against moto: conditional PutObject honoured, the table and --json say so, the answer is cached", async () => {
    const env = { XDG_CACHE_HOME: cacheHome };
    const json = await run(
      ["doctor", `s3://${bucket}/probe/`, "--json", "--no-cache", "--endpoint-url", server.endpoint],
      env,
    );
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.store).toMatchObject({
      location: `s3://${bucket}/probe/`,
      error: null,
      probe: {
        fromCache: false,
        conditionalPut: true,
        putObject: { ifNoneMatch: { result: "honoured" }, ifMatch: { result: "honoured" } },
        completeMultipartUpload: { ifMatch: { result: "ignored" } },
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([expect.stringMatching(/conditional CompleteMultipartUpload.*HEAD first/)]);
    expect(report.deltaEngines.auto.summary).toMatch(/^auto: /);
    const human = await run(["doctor", `s3://${bucket}/probe/`, "--endpoint-url", server.endpoint], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ {2}PutObject If-None-Match: \* +honoured \(HTTP 412\)$/m);
    expect(human.stdout).toMatch(/^ {2}CompleteMultipartUpload If-Match +ignored \(HTTP 200\)$/m);
    expect(human.stdout).toMatch(/^ {2}probed .*\(cached; --no-cache probes again\)/m);
    expect(human.stdout).toMatch(/^warning: .*CompleteMultipartUpload/m);
    expect(human.stdout).toMatch(/^delta engines +auto: /m);
  });

  it("behind a proxy that strips conditional headers: exit 1, one problem naming kv.unsafeStore and --single-writer", async () => {
    const env = { XDG_CACHE_HOME: cacheHome };
    const json = await run(
      ["doctor", `s3://${bucket}/`, "--json", "--no-cache", "--endpoint-url", strip.endpoint],
      env,
    );
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.store.probe).toMatchObject({
      endpoint: strip.endpoint,
      conditionalPut: false,
      putObject: { ifNoneMatch: { result: "ignored" }, ifMatch: { result: "ignored" } },
    });
    expect(report.problems).toEqual([
      expect.stringMatching(/ignores conditional PutObject.*kv\.unsafeStore.*--single-writer/),
    ]);
    const human = await run(["doctor", `s3://${bucket}/`, "--endpoint-url", strip.endpoint], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^ {2}PutObject If-Match +ignored \(HTTP 200\)$/m);
    expect(lines(human.stdout).filter((l) => l.startsWith("problem: "))).toHaveLength(1);
  });
});

describe("interrupt", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: server.endpoint, faults: [{ action: { type: "delay", ms: 5_000 } }] });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} during a slow listing aborts it and exits 130`, async () => {
      const before = proxy.requests.length;
      const running = start(["ls", `s3://${bucket}/`, "--endpoint-url", proxy.endpoint]);
      // Wait until the listing request is in flight at the (delaying) proxy, then interrupt.
      await expect.poll(() => proxy.requests.length, { timeout: 30_000, interval: 50 }).toBeGreaterThan(before);
      running.child.kill(signal);
      const result = await running.done;
      expect(result.code).toBe(130);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(new RegExp(`^error: interrupted \\(${signal}\\)$`, "m"));
    });
  }
});

describe("hostile input (issue 13): readers change nothing outside their target", () => {
  const boxes: HostileSandbox[] = [];
  afterAll(() => Promise.all(boxes.map((b) => b.remove())));
  const sandbox = async () => {
    const box = await createHostileSandbox("cli");
    boxes.push(box);
    return box;
  };
  const ESC = String.fromCharCode(27);

  async function fileStore(): Promise<{ box: HostileSandbox; seed: HostileSeed; url: string }> {
    const box = await sandbox();
    const url = pathToFileURL(box.store).href;
    const seed = await seedHostileStore({ location: url, outsideDir: box.outside, bombBytes: 256 * 1024 });
    return { box, seed, url };
  }

  it("ls -r file:// with a loop link ends, lists every plain file once, names what it skipped, writes nothing", async () => {
    const { box, seed, url } = await fileStore();
    const before = await snapshotTree(box.root);
    const result = await run(["ls", "-r", `${url}/`]);
    expect(result.code).toBe(0);
    const listed = seed.items.filter((i) => i.listed);
    expect(lines(result.stdout)).toHaveLength(listed.length);
    expect(result.stdout).not.toContain(ESC);
    expect(result.stdout).toContain("odd/esc\\x1b[31mred\\x1b[0m.txt");
    expect(result.stdout).toContain("odd/new\\nline.txt");
    expect(lines(result.stderr)).toEqual([
      expect.stringMatching(
        /^skipped 6 entries that are not a plain file or folder \(5 symbolic links, never followed\): /,
      ),
    ]);
    const json = JSON.parse((await run(["ls", "-r", url, "--json"])).stdout);
    expect(json.objects).toBe(listed.length);
    expect(json.skipped).toContainEqual({ path: "d/loop", reason: "symbolicLink" });
    expect(json.skipped).toContainEqual({ path: "etc", reason: "symbolicLink" });
    expect(json.entries.some((e: { key: string }) => e.key.includes(".s3kit"))).toBe(false);
    expect(diffTrees(before, await snapshotTree(box.root))).toEqual([]);
  });

  it("ls ./folder leaves the folder byte-identical (no .s3kit sidecars)", async () => {
    const before = await snapshotTree(dir);
    for (const args of [
      ["ls", dir],
      ["ls", dir, "-r"],
      ["ls", join(dir, "sub"), "--json"],
    ]) {
      expect((await run(args)).code).toBe(0);
    }
    expect(diffTrees(before, await snapshotTree(dir))).toEqual([]);
    expect(existsSync(join(dir, ".s3kit"))).toBe(false);
  });

  it("ls -r of a hostile S3 prefix lists every key once, escaped, and changes nothing locally", async () => {
    const box = await sandbox();
    const seed = await seedHostileStore({
      location: `s3://${bucket}/hostile-ls/`,
      outsideDir: box.outside,
      clientOptions: testClientOptions(server),
      bombBytes: 256 * 1024,
    });
    const before = await snapshotTree(box.root);
    const human = await run(["ls", "-r", `s3://${bucket}/hostile-ls/`, "--endpoint-url", server.endpoint], {
      XDG_CACHE_HOME: join(box.target, ".cache"),
    });
    expect(human.code).toBe(0);
    expect(human.stderr).toBe("");
    expect(lines(human.stdout)).toHaveLength(seed.items.length);
    expect(human.stdout).not.toContain("\u0000");
    expect(human.stdout).not.toContain(ESC);
    expect(human.stdout).toContain(" nul\\x00byte.txt\n");
    expect(human.stdout).toContain(" ../escaped.txt\n");
    const json = await run(["ls", "-r", `s3://${bucket}/hostile-ls/`, "--endpoint-url", server.endpoint, "--json"]);
    const keys = JSON.parse(json.stdout).entries.map((e: { key: string }) => e.key);
    expect(new Set(keys)).toEqual(new Set(seed.items.map((i) => i.key)));
    expect(diffTrees(before, await snapshotTree(box.root))).toEqual([]);
  });

  // The kit's S3 items through `object get`, one run per key into target/: a refused key is a usage error naming
  // it, a lying object fails verification, an ok one arrives byte-identical; nothing outside target changes.
  it("object get of each hostile S3 key: one clear outcome per key, nothing written outside the target", async () => {
    const box = await sandbox();
    const prefix = `s3://${bucket}/hostile-get/`;
    const seed = await seedHostileStore({
      location: prefix,
      outsideDir: box.outside,
      clientOptions: testClientOptions(server),
      bombBytes: 256 * 1024,
    });
    const before = await snapshotTree(box.root, { exclude: ["target"] });
    const env = { XDG_CACHE_HOME: join(box.target, ".cache") };
    // argv cannot carry NUL; the kit's other keys can all be typed.
    for (const item of seed.items.filter((i) => !i.key.includes("\0"))) {
      const result = await run(
        ["object", "get", prefix + item.key, `${box.target}/`, "--endpoint-url", server.endpoint],
        env,
      );
      const name = item.key.slice(item.key.lastIndexOf("/") + 1);
      const what = `${item.key} (${item.what})`;
      expect(result.stdout + result.stderr, what).not.toContain(ESC);
      if (item.category === "pathKey" && !item.key.startsWith("l")) {
        expect(result.code, what).toBe(2);
        expect(lines(result.stderr), what).toEqual([
          expect.stringMatching(/^error: Invalid object URL .*(`\.\.` segments|`\.` segments|empty path segment)/),
        ]);
      } else if (item.category === "pathKey") {
        expect(result.code, what).toBe(1); // a 300-byte file name: the local file system refuses it
        expect(lines(result.stderr), what).toEqual([expect.stringMatching(/^error: Download of .*ENAMETOOLONG/)]);
      } else if (item.key === "lies/sha256-mismatch.txt") {
        expect(result.code, what).toBe(1);
        expect(lines(result.stderr), what).toEqual([
          expect.stringMatching(/^error: Download of .*failed verification/),
        ]);
        expect(existsSync(join(box.target, name)), what).toBe(false);
      } else if (item.key === "lies/hash-is-path.txt") {
        // A malformed s3kit-sha256 (here a path) fails the download before anything is written.
        expect(result.code, what).toBe(1);
        expect(lines(result.stderr), what).toEqual([expect.stringMatching(/^error: .*s3kit-sha256/)]);
        expect(existsSync(join(box.target, name)), what).toBe(false);
      } else {
        expect(result.code, `${what}: ${result.stderr}`).toBe(0);
        const bytes = readFileSync(join(box.target, name));
        expect(createHash("sha256").update(bytes).digest("hex"), what).toBe(item.sha256);
      }
    }
    expect(readFileSync(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
    expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
  });

  it("object get of an empty file:// object writes an empty file", async () => {
    const { box, url } = await fileStore();
    const result = await run(["object", "get", `${url}/empty/zero.bin`, join(box.target, "zero.bin")]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(readFileSync(join(box.target, "zero.bin")).byteLength).toBe(0);
  });

  // For a single-object URL the folder part is the user's own path (the store's root, like `cp` would take it);
  // the object itself is never a link followed, nor a FIFO opened (which would block).
  it("object get never reads a file:// link or FIFO as an object: one clear line, nothing written", async () => {
    const { box, seed, url } = await fileStore();
    const before = await snapshotTree(box.root, { exclude: ["target"] });
    const keys = ["secret-link.txt", "dangling", ...(seed.items.some((i) => i.key === "fifo") ? ["fifo"] : [])];
    for (const key of keys) {
      const result = await run(["object", "get", `${url}/${key}`, join(box.target, "out.txt")]);
      expect(result.code, key).toBe(1);
      expect(lines(result.stderr), key).toEqual([
        expect.stringMatching(/^error: .*notFound \(`[a-z.-]+` is (a symbolic link|not a regular file)/),
      ]);
    }
    expect(readFileSync(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
    expect(existsSync(join(box.target, "out.txt"))).toBe(false);
    expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
  });
});

describe("--debug logs request metadata, never bodies (issue 13 #9)", () => {
  it("object put and get with --debug: one line per request with operation, key, status, bytes, time; no body", async () => {
    const marker = "BODY-MARKER-must-not-reach-stderr-";
    const file = join(dir, "debug-body.txt");
    await writeFile(file, marker.repeat(Math.ceil(1_000_000 / marker.length)));
    const url = `s3://${bucket}/debug/body.txt`;
    const put = await run(["object", "put", file, url, "--endpoint-url", server.endpoint, "--debug"]);
    expect(put.code).toBe(0);
    expect(put.stderr).not.toContain(marker);
    expect(put.stderr.length).toBeLessThan(16 * 1024);
    // The upload's own PutObject (a conditional-write probe under .s3kit/probe/ may come first).
    const line = lines(put.stderr).find(
      (l) => l.startsWith("debug: s3 PutObject 200") && l.includes('"key":"debug/body.txt"'),
    );
    expect(line).toBeDefined();
    const fields = JSON.parse(line!.slice(line!.indexOf("{")));
    expect(fields).toMatchObject({ operation: "PutObject", bucket, key: "debug/body.txt", status: 200 });
    expect(fields.sentBytes).toBeGreaterThanOrEqual(1_000_000);
    expect(typeof fields.ms).toBe("number");
    await rm(file);

    const got = await run(["object", "cat", url, "--endpoint-url", server.endpoint, "--debug"]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain(marker);
    expect(got.stderr).not.toContain(marker);
    expect(got.stderr).toMatch(/^debug: s3 GetObject 20[06] .*"key":"debug\/body\.txt"/m);
  });
});

describe("URLs with user info are redacted everywhere (issue 13 #10)", () => {
  const SECRET = "SENTINEL-url-password-9d2e";
  const withUserInfo = () => server.endpoint.replace("://", `://someone:${SECRET}@`);

  it("doctor (human, --json, --debug) never prints the password and names the problem", async () => {
    for (const extra of [[], ["--json"], ["--debug"], ["--json", "--debug"]]) {
      const result = await run(["doctor", "--endpoint-url", withUserInfo(), ...extra]);
      expect(`${result.stdout}${result.stderr}`, extra.join(" ")).not.toContain(SECRET);
      expect(result.code).toBe(1);
    }
    const json = JSON.parse((await run(["doctor", "--json", "--endpoint-url", withUserInfo()])).stdout);
    expect(json.endpoints.s3.value).toBe(server.endpoint.replace("://", "://***@"));
    expect(json.s3).toMatchObject({ reachable: true, listBuckets: "ok" });
    expect(json.problems).toEqual([expect.stringMatching(/^The endpoint URL from --endpoint-url carries user info/)]);
  });

  it("errors and --json errors never print it either, from the flag or the environment", async () => {
    const closed = "http://someone:" + SECRET + "@127.0.0.1:1";
    for (const extra of [[], ["--json"], ["--debug"]]) {
      const viaFlag = await run(["ls", `s3://${bucket}/`, "--endpoint-url", closed, ...extra]);
      expect(viaFlag.code).toBe(1);
      expect(`${viaFlag.stdout}${viaFlag.stderr}`).not.toContain(SECRET);
      const viaEnv = await run(["object", "get", `s3://${bucket}/top.txt`, join(dir, "x"), ...extra], {
        AWS_ENDPOINT_URL: closed,
      });
      expect(viaEnv.code).toBe(1);
      expect(`${viaEnv.stdout}${viaEnv.stderr}`).not.toContain(SECRET);
    }
    const cat = await run(["object", "cat", `s3://${bucket}/top.txt`, "--debug"], { AWS_ENDPOINT_URL_S3: closed });
    expect(cat.code).toBe(1);
    expect(`${cat.stdout}${cat.stderr}`).not.toContain(SECRET);
    const works = await run(["ls", `s3://${bucket}/`, "--endpoint-url", withUserInfo(), "--debug"]);
    expect(works.code).toBe(0);
    expect(works.stdout).toMatch(/ top\.txt$/m);
    expect(`${works.stdout}${works.stderr}`).not.toContain(SECRET);
  });
});
