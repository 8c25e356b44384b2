// The hostile-input kit: plants crafted objects in an S3 prefix or a `file://` store the way an attacker (or a
// careless tool) would, and says what a correct reader must do with each one. Shipped in the `testing`
// subpath on purpose; it imports no test framework so any runner (vitest, node:test) can use it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type ClientOptions, createS3Client } from "../clients.ts";
import { createFileObjectStore } from "../file-object-store.ts";
import { parseLocation } from "../location.ts";

/** What a planted item is. */
export type HostileCategory =
  /** An ordinary object: a reader must handle it normally (proves the run was not aborted). */
  | "control"
  /** A key that is a path attack: `..`, absolute, `//`, `.`, NUL. */
  | "pathKey"
  /** A legal but unusual key: NFD, very long, spaces, characters or names Windows refuses. */
  | "oddKey"
  /** Metadata that lies: a SHA-256 or size that does not match the body, a hash that is a path. */
  | "lyingMetadata"
  /** A small compressed body that expands far beyond its declared size. */
  | "bomb"
  /** A zero-byte object. */
  | "empty"
  /** `file://` only: a symbolic link (to a parent, outside the store, dangling). */
  | "symlink"
  /** `file://` only: something that is neither a file nor a folder (a FIFO: reading it would block forever). */
  | "special"
  /** `file://` only: a `.s3kit` folder below the root (the store's own reserved name). */
  | "systemDir";

/** One planted item and what a correct reader does with it. */
export interface HostileItem {
  /** The key relative to the seeded location (for `file://`: the relative path, `/`-separated). */
  key: string;
  category: HostileCategory;
  /** One line saying what the item is and why it is there. */
  what: string;
  /** True when a correct recursive listing of the location shows it as an object. */
  listed: boolean;
  /**
   * What a verifying download of the item into a local folder must give: `ok` (the file, byte-identical), `fail`
   * (exactly one failed item with a clear message; nothing written outside the target folder, no partial file)
   * or `failOnWindows` (ok on POSIX, refused for a Windows user: `keyToLocalPath(..., { platform: "win32" })`).
   * Not meaningful for items that are not listed.
   */
  download: "ok" | "fail" | "failOnWindows";
  /**
   * Bombs and size lies: a reader that decodes the body (gzip/zstd/delta) or enforces the declared size
   * (`dg-file-size`, `s3kit-size`) must fail it as soon as the declared size is passed. A raw download is fine.
   */
  decodeFails?: boolean;
  /** Bytes stored. */
  size: number;
  /** SHA-256 hex of the stored bytes. */
  sha256: string;
  /** User metadata planted with it (lower-case keys). */
  metadata: Record<string, string>;
  /** For symlinks: where the link points. */
  linkTarget?: string;
}

/** Options of {@link seedHostileStore}. */
export interface SeedHostileStoreOptions {
  /** Where to plant: `s3://bucket/prefix/` or `file:///abs/dir` (created if missing). */
  location: string;
  /**
   * A folder outside the store and outside any target folder: absolute keys, symlinks and path-shaped hashes
   * aim at it. It gets `secret.txt` and `sub/inside-link.txt`. Snapshot it (or a parent) before and after.
   */
  outsideDir: string;
  /** S3 client used for raw PutObject (the object-store port would refuse most of these keys). */
  client?: S3Client;
  /** Used to create a client when `client` is not given (e.g. `testClientOptions(server)`). */
  clientOptions?: ClientOptions;
  /** Decoded size of the decompression bombs, in bytes. @default 32 MiB */
  bombBytes?: number;
}

/** What {@link seedHostileStore} planted. */
export interface HostileSeed {
  /** The seeded location as given. */
  location: string;
  kind: "s3" | "file";
  items: HostileItem[];
  /** The outside folder, and the file in it that must never be read, changed or deleted. */
  outsideDir: string;
  secretPath: string;
  /** The item with this key. @throws Error when there is none */
  item(key: string): HostileItem;
  /**
   * Keys by the outcome a verifying download of the whole location into a local folder must give, for a user
   * on `platform` (@default process.platform): `ok` items are downloaded, each `failed` item is one failed
   * item, `unlisted` ones are never seen (symlinks, special files, `.s3kit`).
   */
  expected(platform?: NodeJS.Platform): { ok: string[]; failed: string[]; unlisted: string[] };
}

/** Content of the secret file in the outside folder. */
export const HOSTILE_SECRET = "hostile-kit: this file is outside the target and must survive unchanged\n";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));

interface Planned {
  key: string;
  category: HostileCategory;
  what: string;
  body: Uint8Array;
  metadata?: Record<string, string>;
  download?: HostileItem["download"];
  decodeFails?: boolean;
  contentEncoding?: string;
  /** Which backends can hold it. @default both */
  only?: "s3" | "file";
}

/** A segment of `n` letters (a long path segment). */
const long = (n: number, c = "l") => c.repeat(n);

function plan(outsideDir: string, secretPath: string, bombBytes: number): Planned[] {
  const good = utf8("good content\n");
  const goodSha = sha256(good);
  const lie = utf8("this body does not match its metadata\n");
  const zeros = Buffer.alloc(bombBytes);
  const gz = new Uint8Array(gzipSync(zeros, { level: 9 }));
  const zst = new Uint8Array(zstdCompressSync(zeros));
  const hashAsPath = `../../../../../../../..${secretPath}`;
  const odd = (key: string, what: string, windows: boolean): Planned => ({
    key,
    category: "oddKey",
    what,
    body: utf8(`odd key ${key}\n`),
    download: windows ? "failOnWindows" : "ok",
  });
  const pathKey = (key: string, what: string): Planned => ({
    key,
    category: "pathKey",
    what,
    body: utf8(`path key ${JSON.stringify(key)}: must never be written\n`),
    download: "fail",
    only: "s3",
  });
  return [
    {
      key: "ok/plain.txt",
      category: "control",
      what: "an ordinary object with correct s3kit-sha256 and mtime metadata",
      body: good,
      metadata: { "s3kit-sha256": goodSha, mtime: "1700000000.000" },
    },
    { key: "ok/nested/deep.txt", category: "control", what: "an ordinary nested object", body: utf8("deep\n") },
    // Path keys: S3 holds any UTF-8 key, and moto lists and serves all of these.
    pathKey("../escaped.txt", "a `..` segment: lands beside the target folder if joined naively"),
    pathKey("a/../../escaped-2.txt", "a `..` in the middle that climbs out of the target"),
    pathKey(`/${outsideDir.replace(/^\/+/, "")}/abs-escaped.txt`, "an absolute key naming the outside folder"),
    pathKey("a//b.txt", "an empty segment"),
    pathKey("a/./b.txt", "a `.` segment"),
    pathKey("nul\0byte.txt", "a NUL character (truncates C strings)"),
    pathKey(`${long(300)}.txt`, "a 300-byte segment: too long for a local file name (ENAMETOOLONG)"),
    // Odd but legal keys.
    odd("odd/cafe\u0301.txt", "an NFD name (e + combining acute): must round-trip byte-identical", false),
    odd(`odd/${long(200, "a")}/${long(200, "b")}/${long(200, "c")}/${long(200, "d")}.txt`, "a long key", false),
    odd("odd/with space.txt", "a space inside a name", false),
    odd("odd/trailing space ", "a name ending in a space (Windows drops it)", true),
    odd("odd/trailing-dot.", "a name ending in a dot (Windows drops it)", true),
    odd("odd/back\\slash.txt", "a backslash (a separator on Windows)", true),
    odd("odd/c:colon.txt", "a colon (a drive or stream on Windows)", true),
    odd("odd/CON", "a reserved device name on Windows", true),
    odd("odd/aux.txt", "a reserved device name with an extension on Windows", true),
    odd("odd/esc\u001b[31mred\u001b[0m.txt", "ANSI escapes: a listing printed raw recolours the terminal", true),
    // moto refuses a newline in a key (real S3 takes it); the file system holds it.
    { ...odd("odd/new\nline.txt", "a newline: a listing printed raw forges a second line", true), only: "file" },
    // Lying metadata.
    {
      key: "lies/sha256-mismatch.txt",
      category: "lyingMetadata",
      what: "s3kit-sha256 / dg-file-sha256 are valid hex of other bytes",
      body: lie,
      metadata: { "s3kit-sha256": goodSha, "dg-file-sha256": goodSha },
      download: "fail",
    },
    {
      key: "lies/size-mismatch.txt",
      category: "lyingMetadata",
      what: "dg-file-size / s3kit-size declare 10 bytes, the body is longer (its SHA-256 is right)",
      body: lie,
      metadata: { "dg-file-size": "10", "s3kit-size": "10", "s3kit-sha256": sha256(lie) },
      download: "ok",
      decodeFails: true,
    },
    {
      key: "lies/hash-is-path.txt",
      category: "lyingMetadata",
      what: "hash metadata that is a path to the outside secret (relative and absolute)",
      body: lie,
      metadata: {
        "s3kit-sha256": hashAsPath,
        "dg-file-sha256": hashAsPath,
        "dg-ref-sha256": secretPath,
        "dg-ref-key": hashAsPath,
      },
      download: "fail",
    },
    {
      key: "lies/garbage-numbers.txt",
      category: "lyingMetadata",
      what: "mtime and part size that are not numbers (a part size of 0 must not loop); the SHA-256 is right",
      body: good,
      metadata: { "s3kit-sha256": goodSha, mtime: "-1e999", "s3kit-part-size": "0" },
      download: "ok",
    },
    // Bombs.
    {
      key: "bomb/bomb.gz",
      category: "bomb",
      what: `gzip of ${bombBytes} zero bytes declaring 10 bytes`,
      body: gz,
      metadata: { "dg-file-size": "10", "s3kit-size": "10", "dg-compression": "gzip" },
      contentEncoding: "gzip",
      download: "ok",
      decodeFails: true,
    },
    {
      key: "bomb/bomb.zst",
      category: "bomb",
      what: `zstd of ${bombBytes} zero bytes declaring 10 bytes`,
      body: zst,
      metadata: { "dg-file-size": "10", "s3kit-size": "10", "dg-compression": "zstd" },
      contentEncoding: "zstd",
      download: "ok",
      decodeFails: true,
    },
    {
      key: "empty/zero.bin",
      category: "empty",
      what: "a zero-byte object: downloads as an empty file",
      body: new Uint8Array(0),
      metadata: { "s3kit-sha256": sha256(new Uint8Array(0)) },
    },
  ];
}

/**
 * Fill an S3 prefix or a `file://` store with crafted objects: path keys (`../x`, `/abs`, `a//b`, `a/./b`,
 * NUL — S3 only, a file system cannot hold them), odd keys (NFD, long, spaces, `\`, `:`, `CON`), lying metadata
 * (SHA-256/size that do not match, hashes that are paths), gzip/zstd decompression bombs, an empty object, and
 * for `file://` symlinks (`d/loop -> ..`, `etc` and `sub` pointing into `outsideDir`, a link to the secret,
 * a dangling link), a FIFO and a nested `.s3kit` folder. Also writes `outsideDir/secret.txt`.
 *
 * Put the target folder of the reader under test one level below a temp root that also holds `outsideDir`,
 * snapshot the root with {@link snapshotTree} (excluding the target) before and after, and compare with
 * {@link diffTrees}: `..` keys land in that root if a reader joins them naively.
 * @returns what was planted and what a correct reader does with each item.
 */
export async function seedHostileStore(options: SeedHostileStoreOptions): Promise<HostileSeed> {
  const location = parseLocation(options.location);
  const outsideDir = options.outsideDir;
  await mkdir(join(outsideDir, "sub"), { recursive: true });
  const secretPath = join(outsideDir, "secret.txt");
  await writeFile(secretPath, HOSTILE_SECRET);
  await writeFile(join(outsideDir, "sub", "inside-link.txt"), "outside, reached through a symlink\n");
  const kind = location.kind;
  const planned = plan(outsideDir, secretPath, options.bombBytes ?? 32 * 1024 * 1024).filter(
    (p) => p.only === undefined || p.only === kind,
  );
  const items: HostileItem[] = planned.map((p) => ({
    key: p.key,
    category: p.category,
    what: p.what,
    listed: true,
    download: p.download ?? "ok",
    ...(p.decodeFails ? { decodeFails: true } : {}),
    size: p.body.byteLength,
    sha256: sha256(p.body),
    metadata: p.metadata ?? {},
  }));

  if (location.kind === "s3") {
    const client = options.client ?? createS3Client({ ...options.clientOptions, maxAttempts: 3 });
    try {
      for (const p of planned) {
        // Raw PutObject: the port validates keys, and these keys are exactly what it refuses.
        await client.send(
          new PutObjectCommand({
            Bucket: location.bucket,
            Key: location.prefix + p.key,
            Body: p.body,
            ...(p.metadata ? { Metadata: p.metadata } : {}),
            ...(p.contentEncoding ? { ContentEncoding: p.contentEncoding } : {}),
          }),
        );
      }
    } finally {
      if (!options.client) client.destroy();
    }
  } else {
    const root = location.root;
    await mkdir(root, { recursive: true });
    // Bodies as plain files, user metadata in the store's own sidecar format (written through the store so the
    // format stays its business).
    const store = createFileObjectStore(location);
    for (const p of planned) await store.put(p.key, p.body, p.metadata ? { metadata: p.metadata } : {});
    await store.close();
    const link = async (key: string, target: string, what: string) => {
      const path = join(root, ...key.split("/"));
      await mkdir(join(path, ".."), { recursive: true });
      await symlink(target, path);
      items.push({
        key,
        category: "symlink",
        what,
        listed: false,
        download: "fail",
        size: 0,
        sha256: "",
        metadata: {},
        linkTarget: target,
      });
    };
    await mkdir(join(root, "d"), { recursive: true });
    await writeFile(join(root, "d", "file.txt"), "in d\n");
    items.push(fileItem("d/file.txt", "a plain file beside the loop link", utf8("in d\n")));
    await link("d/loop", "..", "a link to its parent: a following walker never ends");
    await link("etc", outsideDir, "a folder link out of the store (as `etc -> /etc`)");
    await link("sub", join(outsideDir, "sub"), "a folder link out of the store: a write to sub/x lands outside");
    await link("secret-link.txt", secretPath, "a file link to the outside secret");
    await link("dangling", join(outsideDir, "missing"), "a dangling link");
    // A `.s3kit` below the root: reserved at every depth, never listed.
    await mkdir(join(root, "nested", ".s3kit", "meta"), { recursive: true });
    await writeFile(join(root, "nested", ".s3kit", "hidden.txt"), "not an object\n");
    await writeFile(join(root, "nested", ".s3kit", "meta", "x.json"), "{}");
    await writeFile(join(root, "nested", "visible.txt"), "visible\n");
    items.push(fileItem("nested/visible.txt", "a plain file beside a nested .s3kit", utf8("visible\n")));
    items.push({
      key: "nested/.s3kit/hidden.txt",
      category: "systemDir",
      what: "a file under a nested .s3kit folder",
      listed: false,
      download: "fail",
      size: 14,
      sha256: sha256(utf8("not an object\n")),
      metadata: {},
    });
    // A FIFO: a reader that opens it blocks forever. Skipped where mkfifo is unavailable.
    const fifo = join(root, "fifo");
    if (spawnSync("mkfifo", [fifo], { stdio: "ignore" }).status === 0) {
      items.push({
        key: "fifo",
        category: "special",
        what: "a named pipe: opening it would block",
        listed: false,
        download: "fail",
        size: 0,
        sha256: "",
        metadata: {},
      });
    }
  }

  return {
    location: options.location,
    kind,
    items,
    outsideDir,
    secretPath,
    item(key) {
      const found = items.find((i) => i.key === key);
      if (!found) throw new Error(`hostile kit: no item ${JSON.stringify(key)}`);
      return found;
    },
    expected(platform = process.platform) {
      const ok: string[] = [];
      const failed: string[] = [];
      const unlisted: string[] = [];
      for (const i of items) {
        if (!i.listed) unlisted.push(i.key);
        else if (i.download === "ok" || (i.download === "failOnWindows" && platform !== "win32")) ok.push(i.key);
        else failed.push(i.key);
      }
      const order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
      return { ok: ok.sort(order), failed: failed.sort(order), unlisted: unlisted.sort(order) };
    },
  };
}

function fileItem(key: string, what: string, body: Uint8Array): HostileItem {
  return {
    key,
    category: "control",
    what,
    listed: true,
    download: "ok",
    size: body.byteLength,
    sha256: sha256(body),
    metadata: {},
  };
}

/** A temp folder laid out for a hostile run: `root/store` (seed here), `root/outside`, `root/target`. */
export interface HostileSandbox {
  root: string;
  store: string;
  outside: string;
  target: string;
  /** Remove the whole sandbox. */
  remove(): Promise<void>;
}

/** Create a {@link HostileSandbox} under the OS temp folder. */
export async function createHostileSandbox(tag = "hostile"): Promise<HostileSandbox> {
  const root = await mkdtemp(join(tmpdir(), `s3kit-${tag}-`));
  const sandbox = {
    root,
    store: join(root, "store"),
    outside: join(root, "outside"),
    target: join(root, "target"),
    remove: () => rm(root, { recursive: true, force: true }),
  };
  await Promise.all([mkdir(sandbox.store), mkdir(sandbox.outside), mkdir(sandbox.target)]);
  return sandbox;
}

/** Options of {@link snapshotTree}. */
export interface SnapshotTreeOptions {
  /** Relative paths (`/`-separated) to leave out, with everything below them (e.g. the target folder). */
  exclude?: string[];
  /** Record folder mtimes too, so a file created and removed again is noticed. @default true */
  dirMtimes?: boolean;
}

/**
 * A snapshot of every entry under `dir`, never following symlinks: relative path → a line with its type,
 * mode, size, SHA-256 and mtime (files), link target (symlinks). Compare two with {@link diffTrees}.
 */
export async function snapshotTree(dir: string, options: SnapshotTreeOptions = {}): Promise<Record<string, string>> {
  const exclude = new Set(options.exclude ?? []);
  const out: Record<string, string> = {};
  const visit = async (abs: string, rel: string): Promise<void> => {
    const s = await lstat(abs);
    const mode = (s.mode & 0o7777).toString(8).padStart(4, "0");
    if (s.isSymbolicLink()) out[rel] = `link -> ${await readlink(abs)}`;
    else if (s.isFile()) out[rel] = `file ${mode} ${s.size}B sha256:${sha256(await readFile(abs))} mtime:${s.mtimeMs}`;
    else if (s.isDirectory()) {
      out[rel] = `dir ${mode}${options.dirMtimes === false ? "" : ` mtime:${s.mtimeMs}`}`;
      for (const name of (await readdir(abs)).sort()) {
        const childRel = rel === "." ? name : `${rel}/${name}`;
        if (!exclude.has(childRel)) await visit(join(abs, name), childRel);
      }
    } else out[rel] = `special ${mode}`;
  };
  await visit(dir, ".");
  return out;
}

/** The differences between two {@link snapshotTree} results, one line each (`+ added`, `- removed`, `~ changed`); `[]` when identical. */
export function diffTrees(before: Record<string, string>, after: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const [path, was] of Object.entries(before)) {
    const now = after[path];
    if (now === undefined) lines.push(`- ${path} (${was})`);
    else if (now !== was) lines.push(`~ ${path}: ${was} → ${now}`);
  }
  for (const [path, now] of Object.entries(after)) if (!(path in before)) lines.push(`+ ${path} (${now})`);
  return lines.sort();
}
