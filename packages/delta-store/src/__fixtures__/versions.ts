import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Bytes of real files (a published npm package's sources) as the base of a synthetic "release archive". */
export function realBytes(limitBytes: number): Buffer {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("zod/package.json"));
  const chunks: Buffer[] = [];
  let size = 0;
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (size >= limitBytes) return;
      const path = join(dir, name);
      const s = statSync(path);
      if (s.isDirectory()) visit(path);
      else if (s.isFile()) {
        const header = Buffer.alloc(512);
        header.write(path.slice(root.length), "utf8");
        chunks.push(header, readFileSync(path));
        size += 512 + s.size;
      }
    }
  };
  visit(root);
  return Buffer.concat(chunks).subarray(0, limitBytes);
}

/** Version `i` of an artifact: the base with small, growing edits (an inserted line, patched bytes, a footer). */
export function versionOf(base: Buffer, i: number): Buffer {
  if (i === 0) return base;
  const insertAt = Math.floor((base.length * (i % 7)) / 8);
  const inserted = Buffer.from(`\n// release 1.0.${i}: changed line ${i * 31}\n`);
  const out = Buffer.concat([base.subarray(0, insertAt), inserted, base.subarray(insertAt), Buffer.from(`v${i}`)]);
  for (let k = 0; k < i * 3; k++) {
    const at = (k * 7919 + i * 104729) % out.length;
    out[at] = (out[at]! + 1) & 0xff;
  }
  return out;
}

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `s3kit-delta-${tag}-`));
}

/** Write versions 0..n-1 as `<dir>/app-1.0.<i>.tar`; returns the paths and contents. */
export async function writeVersions(
  dir: string,
  n: number,
  baseBytes: number,
  ext = ".tar",
): Promise<{ path: string; name: string; bytes: Buffer }[]> {
  const base = realBytes(baseBytes);
  const out: { path: string; name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const name = `app-1.0.${i}${ext}`;
    const bytes = versionOf(base, i);
    const path = join(dir, name);
    await writeFile(path, bytes);
    out.push({ path, name, bytes });
  }
  return out;
}
