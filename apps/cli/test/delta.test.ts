import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  HOSTILE_SECRET,
  seedHostileStore,
  snapshotTree,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.ts";

let server: TestServer;
let bucket: string;
let raw: ObjectStore;
let home: string;

const run = (args: string[]) =>
  runCli(args, { endpoint: server.endpoint, env: { XDG_CACHE_HOME: join(home, ".cache") } });

/** Version i of a ~300 KB "release": text-like bytes with small edits. */
function version(i: number): Buffer {
  const lines: string[] = [];
  for (let n = 0; n < 6000; n++) lines.push(`export const value${n} = ${(n * 7919) % 104729}; // module line ${n}`);
  const base = Buffer.from(lines.join("\n"));
  const edited = Buffer.concat([base.subarray(0, 1000 * i), Buffer.from(`// release ${i}\n`), base.subarray(1000 * i)]);
  return edited;
}

beforeAll(async () => {
  if (!existsSync(join(fileURLToPath(new URL("..", import.meta.url)), "dist", "commands", "delta", "cp.js"))) {
    throw new Error("apps/cli is not built: run `pnpm --filter s3kit... build` first");
  }
  server = await startS3Server();
  const created = await createTestBucket(server, "cli-delta");
  bucket = created.bucket;
  created.client.destroy();
  raw = openObjectStore(created.url, testClientOptions(server));
  home = await mkdtemp(join(tmpdir(), "s3kit-delta-cli-"));
});

afterAll(async () => {
  await raw?.close();
});

describe("s3kit delta", () => {
  it("cp uploads versions as reference + deltas, ls shows real sizes, cp downloads, stats reports savings", async () => {
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const path = join(home, `app-1.0.${i}.tar`);
      await writeFile(path, version(i));
      files.push(path);
    }
    const first = await run(["delta", "cp", files[0]!, `s3://${bucket}/rel/app/`, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ stored: "reference", key: "rel/app/app-1.0.0.tar" });
    const second = await run(["delta", "cp", files[1]!, `s3://${bucket}/rel/app/`, "--json"]);
    // auto: the xdelta3 binary when installed (DeltaGlider's engine and delta sizes).
    expect(JSON.parse(second.stdout)).toMatchObject({ stored: "delta", engine: "xdelta3" });
    const third = await run(["delta", "cp", files[2]!, `s3://${bucket}/rel/app/renamed.tar`]);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/^upload: .* \(delta, xdelta3, /);
    // A sibling prefix that must not show up.
    await run(["delta", "cp", files[0]!, `s3://${bucket}/rel/app-old/`]);

    const ls = await run(["delta", "ls", `s3://${bucket}/rel/app`, "--json"]);
    expect(ls.code).toBe(0);
    const listed = JSON.parse(ls.stdout) as { files: { key: string; size: number }[] };
    expect(listed.files.map((f) => f.key)).toEqual([
      "rel/app/app-1.0.0.tar",
      "rel/app/app-1.0.1.tar",
      "rel/app/renamed.tar",
    ]);
    expect(listed.files[1]!.size).toBe(version(1).length);
    const human = await run(["delta", "ls", `s3://${bucket}/rel/`]);
    expect(human.stdout).toMatch(/PRE rel\/app\//);
    expect(human.stdout).not.toContain("reference.bin");

    const out = join(home, "out");
    const get = await run(["delta", "cp", `s3://${bucket}/rel/app/renamed.tar`, `${out}/`]);
    expect(get.code).toBe(0);
    expect((await readFile(join(out, "renamed.tar"))).equals(version(2))).toBe(true);

    const stats = await run(["delta", "stats", `s3://${bucket}/rel/app/`, "--json"]);
    const s = JSON.parse(stats.stdout) as { files: number; savings: number; references: number };
    expect(s).toMatchObject({ files: 3, references: 1 });
    expect(s.savings).toBeGreaterThan(0.5);
    expect((await run(["delta", "verify", `s3://${bucket}/rel/app/app-1.0.1.tar`])).code).toBe(0);
  });

  it("verify and cp fail with exit 1 on a corrupt delta and leave no file; usage errors exit 2", async () => {
    await writeFile(join(home, "v0.zip"), version(0));
    await writeFile(join(home, "v1.zip"), version(1));
    await run(["delta", "cp", join(home, "v0.zip"), `s3://${bucket}/bad/`]);
    await run(["delta", "cp", join(home, "v1.zip"), `s3://${bucket}/bad/`]);
    const info = await raw.head("bad/v1.zip.delta");
    const bytes = Buffer.from(await raw.getBytes("bad/v1.zip.delta"));
    // The tail holds the window data (the head has file names, which decoding ignores).
    bytes[bytes.length - 3]! ^= 0x40;
    await raw.put("bad/v1.zip.delta", bytes, { metadata: info!.metadata });
    const verify = await run(["delta", "verify", `s3://${bucket}/bad/v1.zip`]);
    expect(verify.code).toBe(1);
    expect(verify.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^error: .*corrupt/)]);
    const dest = join(home, "bad-out.zip");
    const cp = await run(["delta", "cp", `s3://${bucket}/bad/v1.zip`, dest, "--json"]);
    expect(cp.code).toBe(1);
    expect(JSON.parse(cp.stdout)).toMatchObject({ error: { code: "delta.integrity" } });
    expect(existsSync(dest)).toBe(false);
    const usage = await run(["delta", "cp", join(home, "v0.zip"), join(home, "elsewhere.zip")]);
    expect(usage.code).toBe(2);
    const missing = await run(["delta", "cp", `s3://${bucket}/bad/none.zip`, dest]);
    expect(missing.code).toBe(1);
  });

  it("a dg-ref-sha256 that is a path fails cp with a clear message and deletes nothing; verify checks the stored reference (issue 13)", async () => {
    // Five levels below `evil` is the cache dir: the old code joined the hash into `evil/x/notes.txt` and removed it.
    const evil = await mkdtemp(join(tmpdir(), "s3kit-delta-evil-"));
    const cacheHome = join(evil, "c1", "c2", "c3");
    await mkdir(join(evil, "x"), { recursive: true });
    const notes = join(evil, "x", "notes.txt");
    await writeFile(notes, "my notes\n");
    const runEvil = (args: string[]) => runCli(args, { endpoint: server.endpoint, env: { XDG_CACHE_HOME: cacheHome } });
    await writeFile(join(home, "e0.zip"), version(0));
    await writeFile(join(home, "e1.zip"), version(1));
    expect((await runEvil(["delta", "cp", join(home, "e0.zip"), `s3://${bucket}/evil/`])).code).toBe(0);
    expect((await runEvil(["delta", "cp", join(home, "e1.zip"), `s3://${bucket}/evil/`])).code).toBe(0);
    expect((await runEvil(["delta", "verify", `s3://${bucket}/evil/e1.zip`])).code).toBe(0);
    const info = await raw.head("evil/e1.zip.delta");
    const body = await raw.getBytes("evil/e1.zip.delta");
    await raw.put("evil/e1.zip.delta", body, {
      metadata: { ...info!.metadata, "dg-ref-sha256": "../../../../x/notes.txt" },
    });
    const dest = join(evil, "out.zip");
    const cp = await runEvil(["delta", "cp", `s3://${bucket}/evil/e1.zip`, dest]);
    expect(await readFile(notes, "utf8")).toBe("my notes\n");
    expect(cp.code).toBe(1);
    expect(cp.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^error: .*dg-ref-sha256 of .*e1\.zip\.delta is "\.\.\/\.\.\/\.\.\/\.\.\/x\/notes\.txt": expected 64 lowercase hex/,
      ),
    ]);
    expect(existsSync(dest)).toBe(false);
    const ls = await runEvil(["delta", "ls", `s3://${bucket}/evil/`, "--json"]);
    expect(ls.code).toBe(3);
    expect(JSON.parse(ls.stdout)).toMatchObject({
      files: [{ key: "evil/e0.zip" }],
      failed: [{ key: "evil/e1.zip", error: expect.stringMatching(/dg-ref-sha256/) }],
    });
    await raw.put("evil/e1.zip.delta", body, { metadata: info!.metadata });

    // The cache still holds the reference; verify must look at the bucket, where it is gone.
    await raw.delete("evil/reference.bin");
    const verify = await runEvil(["delta", "verify", `s3://${bucket}/evil/e1.zip`]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/^error: .*reference .*evil\/reference\.bin.* is missing[^.]*\.$/m);
    expect(await readFile(notes, "utf8")).toBe("my notes\n");
  });

  it("with no xdelta3 on PATH, auto writes VCDIFF deltas that `xdelta3 -d` decodes, and says why a large file went direct (issue 14)", async () => {
    const emptyBin = await mkdtemp(join(tmpdir(), "s3kit-delta-nobin-"));
    const runNoBin = (args: string[]) =>
      runCli(args, { endpoint: server.endpoint, env: { PATH: emptyBin, XDG_CACHE_HOME: join(home, ".cache-nobin") } });
    const names = ["nb-1.0.0.tar", "nb-1.0.1.tar"];
    for (const [i, name] of names.entries()) await writeFile(join(home, name), version(i + 4));
    const first = await runNoBin(["delta", "cp", join(home, names[0]!), `s3://${bucket}/nobin/`, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ stored: "reference", engine: "xdelta3-wasm" });
    const second = await runNoBin(["delta", "cp", join(home, names[1]!), `s3://${bucket}/nobin/`, "--json"]);
    expect(JSON.parse(second.stdout)).toMatchObject({ stored: "delta", engine: "xdelta3-wasm" });
    // DeltaGlider's read path: the xdelta3 CLI on the raw reference and delta.
    const work = await mkdtemp(join(tmpdir(), "s3kit-delta-decode-"));
    await writeFile(join(work, "reference.bin"), await raw.getBytes("nobin/reference.bin"));
    for (const [i, name] of names.entries()) {
      await writeFile(join(work, `${name}.delta`), await raw.getBytes(`nobin/${name}.delta`));
      execFileSync("xdelta3", [
        "-d",
        "-f",
        "-s",
        join(work, "reference.bin"),
        join(work, `${name}.delta`),
        join(work, name),
      ]);
      expect((await readFile(join(work, name))).equals(version(i + 4))).toBe(true);
    }
    // Over xdelta3-wasm's 1 MiB: stored directly (never zstd), and the reason is on stderr.
    const large = Buffer.concat([version(1), version(2), version(3), version(4), version(5)]);
    await writeFile(join(home, "large.tar"), large);
    const big = await runNoBin(["delta", "cp", join(home, "large.tar"), `s3://${bucket}/nobin-large/`]);
    expect(big.code).toBe(0);
    expect(big.stdout).toMatch(/^upload: .* \(direct, .*noEngine\)/);
    expect(big.stderr).toMatch(/^note: no xdelta3 binary on PATH/m);
    expect(await raw.head("nobin-large/large.tar.delta")).toBeUndefined();
    expect(await raw.head("nobin-large/reference.bin")).toBeUndefined();
  });

  it.each(["s3", "file"] as const)(
    "delta ls, cp and verify against the hostile-input kit (%s): nothing outside the target changes, bad items fail one by one",
    async (kind) => {
      const box = await createHostileSandbox(`cli-delta-${kind}`);
      try {
        const location = kind === "s3" ? `s3://${bucket}/hostile/` : pathToFileURL(box.store).href;
        const seed = await seedHostileStore({
          location,
          outsideDir: box.outside,
          ...(kind === "s3" ? { clientOptions: testClientOptions(server) } : {}),
          bombBytes: 4 * 1024 * 1024,
        });
        // A delta whose dg-ref-sha256 is a path to the outside secret.
        const store = kind === "s3" ? raw : openObjectStore(location);
        const p = kind === "s3" ? "hostile/" : "";
        await store.put(`${p}d/reference.bin`, version(0), {
          metadata: { "dg-file-sha256": createHash("sha256").update(version(0)).digest("hex") },
        });
        await store.put(`${p}d/evil.tar.delta`, Buffer.from("not decoded"), {
          metadata: {
            "dg-file-sha256": "a".repeat(64),
            "dg-file-size": "100",
            "dg-ref-key": `${p}d/reference.bin`,
            "dg-ref-sha256": `../../../../../../../..${seed.secretPath}`,
          },
        });
        if (kind === "file") await store.close();
        const url = (key: string) => (kind === "s3" ? `s3://${bucket}/hostile/${key}` : `${location}/${key}`);
        const env = { XDG_CACHE_HOME: join(box.target, ".cache") };
        const cli = (args: string[]) => runCli(args, { endpoint: server.endpoint, env });
        const before = await snapshotTree(box.root, { exclude: ["target"] });

        const ls = await cli(["delta", "ls", location, "--recursive", "--json"]);
        expect(ls.code).toBe(3);
        const listed = JSON.parse(ls.stdout) as { files: { key: string }[]; failed: { key: string; error: string }[] };
        // s3:// keys are bucket-relative; a file:// listing is relative to the store folder.
        expect(listed.failed).toEqual([
          { key: `${p}d/evil.tar`, error: expect.stringMatching(/dg-ref-sha256 .*64 lowercase hex/) },
        ]);
        expect(listed.files.map((f) => f.key)).toEqual(
          expect.arrayContaining([`${p}ok/plain.txt`, `${p}ok/nested/deep.txt`]),
        );
        const human = await cli(["delta", "ls", location, "--recursive"]);
        // Keys with ANSI escapes or newlines never reach the terminal raw: one line per entry.
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what must not appear.
        expect(human.stdout).not.toMatch(/\u001b/);
        expect(human.stdout).not.toMatch(/^line\.txt/m);

        // A file:// URL of one file opens its folder as the store, where the sidecar metadata of a store rooted
        // higher is not seen: there the lying direct objects read as plain objects, so only s3 checks them.
        for (const key of kind === "s3" ? ["d/evil.tar", "lies/hash-is-path.txt", "bomb/bomb.gz"] : ["d/evil.tar"]) {
          const dest = join(box.target, key.replaceAll("/", "_"));
          const cp = await cli(["delta", "cp", url(key), dest]);
          expect(cp.code, `${key}: ${cp.stderr}`).toBe(1);
          expect(cp.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^error: .{20,}/)]);
          expect(existsSync(dest)).toBe(false);
        }
        const verify = await cli(["delta", "verify", url("d/evil.tar")]);
        expect(verify.code).toBe(1);
        if (kind === "s3") expect(verify.stderr).toMatch(/dg-ref-sha256/);
        const good = await cli(["delta", "cp", url("ok/plain.txt"), join(box.target, "plain.txt")]);
        expect(good.code).toBe(0);
        expect(await readFile(join(box.target, "plain.txt"), "utf8")).toBe("good content\n");

        expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
        expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
      } finally {
        await box.remove();
      }
    },
  );

  it("sync goes both ways, honours --dryrun/--dry-run, --exclude and --delete, and rm -r stays inside the prefix", async () => {
    const src = join(home, "dist");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a.tar"), version(3));
    await writeFile(join(src, "sub", "b.tar"), version(4));
    await writeFile(join(src, "debug.log"), "log");
    const url = `s3://${bucket}/sync/app/`;
    for (const flag of ["--dryrun", "--dry-run"]) {
      const dry = await run(["delta", "sync", src, url, flag, "--exclude", "*.log", "--json"]);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        dryRun: true,
        transferred: ["sync/app/a.tar", "sync/app/sub/b.tar"],
      });
    }
    expect(await raw.head("sync/app/a.tar.delta")).toBeUndefined();
    const up = await run(["delta", "sync", src, url, "--exclude", "*.log", "--json"]);
    expect(JSON.parse(up.stdout).transferred).toHaveLength(2);
    await run(["delta", "cp", join(src, "a.tar"), `s3://${bucket}/sync/app-old/`]);

    const mirror = join(home, "mirror");
    await mkdir(mirror, { recursive: true });
    await writeFile(join(mirror, "stale.tar"), "old");
    // stale.tar is the mirror's only file: deleting it is 100 % of the destination, so the share limit of the
    // delete rails (issue 12) needs the flag that says how many deletes are accepted.
    const down = await run(["delta", "sync", url, mirror, "--delete", "--max-delete", "1", "--json"]);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({
      direction: "download",
      transferred: ["a.tar", "sub/b.tar"],
      deleted: ["stale.tar"],
    });
    expect((await readFile(join(mirror, "sub", "b.tar"))).equals(version(4))).toBe(true);

    const rm = await run(["delta", "rm", `s3://${bucket}/sync/app`, "--recursive", "--json"]);
    expect(rm.code).toBe(0);
    expect(JSON.parse(rm.stdout).deleted).toEqual(["sync/app/a.tar", "sync/app/sub/b.tar"]);
    const left: string[] = [];
    for await (const e of raw.list({ prefix: "sync/" })) if (e.kind === "object") left.push(e.key);
    expect(left.every((k) => k.startsWith("sync/app-old/"))).toBe(true);
    expect(left).toContain("sync/app-old/reference.bin");
  });
  it("cp --recursive with ordered --exclude/--include, --no-delta, --engine, --max-ratio, and rm of one file", async () => {
    const src = join(home, "tree");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a.tar"), version(5));
    await writeFile(join(src, "sub", "b.tar"), version(6));
    await writeFile(join(src, "old-c.tar"), version(7));
    await writeFile(join(src, "notes.txt"), "notes");
    const url = `s3://${bucket}/tree/`;
    // Later rules win: everything out, *.tar back in, old* out again.
    const up = await run([
      "delta",
      "cp",
      src,
      url,
      "--recursive",
      "--exclude",
      "*",
      "--include",
      "*.tar",
      "--exclude",
      "old*",
      "--json",
    ]);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout).transferred).toEqual(["tree/a.tar", "tree/sub/b.tar"]);
    expect(await raw.head("tree/notes.txt")).toBeUndefined();
    expect(await raw.head("tree/old-c.tar")).toBeUndefined();
    expect(await raw.head("tree/old-c.tar.delta")).toBeUndefined();
    const back = join(home, "tree-back");
    const down = await run(["delta", "cp", url, back, "--recursive"]);
    expect(down.code).toBe(0);
    expect((await readFile(join(back, "sub", "b.tar"))).equals(version(6))).toBe(true);

    const file = join(src, "old-c.tar");
    const direct = await run(["delta", "cp", file, `${url}nodelta.tar`, "--no-delta", "--json"]);
    expect(JSON.parse(direct.stdout)).toMatchObject({ stored: "direct", reason: "noDelta" });
    const zstd = await run(["delta", "cp", file, `${url}z.tar`, "--engine", "zstd", "--json"]);
    expect(JSON.parse(zstd.stdout)).toMatchObject({ stored: "delta", engine: "zstd" });
    expect((await raw.head("tree/z.tar.delta"))!.metadata["dg-engine"]).toBe("zstd");
    const tight = await run(["delta", "cp", file, `${url}tight.tar`, "--max-ratio", "0.00001", "--json"]);
    expect(JSON.parse(tight.stdout)).toMatchObject({ stored: "direct", reason: "ratioExceeded" });
    const bad = await run(["delta", "cp", file, url, "--max-ratio", "2"]);
    expect(bad.code).toBe(2);
    // Named as the flag (--max-ratio) or the option (maxRatio), with the value.
    expect(bad.stderr).toMatch(/max-?ratio.*2/i);

    // rm of one file keeps reference.bin while other deltas depend on it.
    const rmOne = await run(["delta", "rm", `${url}a.tar`, "--json"]);
    expect(rmOne.code).toBe(0);
    expect(JSON.parse(rmOne.stdout)).toMatchObject({ referenceDeleted: false, deletedKeys: ["tree/a.tar.delta"] });
    expect(await raw.head("tree/reference.bin")).toBeDefined();
    for (const name of ["z.tar", "nodelta.tar", "tight.tar"]) {
      expect((await run(["delta", "rm", `${url}${name}`])).code).toBe(0);
    }
    // z.tar was the last delta of tree/: its reference went with it; sub/ is a deltaspace of its own.
    expect(await raw.head("tree/reference.bin")).toBeUndefined();
    expect(await raw.head("tree/sub/reference.bin")).toBeDefined();
    expect((await run(["delta", "rm", `${url}missing.tar`])).code).toBe(1);
    const last = await run(["delta", "rm", `${url}sub/b.tar`, "--json"]);
    expect(JSON.parse(last.stdout)).toMatchObject({ referenceDeleted: true });
    const left: string[] = [];
    for await (const e of raw.list({ prefix: "tree/" })) if (e.kind === "object") left.push(e.key);
    expect(left).toEqual([]);
  });
});
