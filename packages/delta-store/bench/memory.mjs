// Peak memory of a put + cold get of one large generated artifact, per engine, against the local S3 server.
// Not part of `pnpm bench` (it needs ~3 × SIZE of disk and minutes of CPU):
//   node bench/memory.mjs [sizeMiB=512] [engines=xdelta3,zstd]
// Each phase runs in its own process under /usr/bin/time, which reports the larger of the Node process and
// the xdelta3 child it waits for; the Node figure alone comes from process.resourceUsage().
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MIB = 1024 * 1024;
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "child") {
  const [, , , phase, engine, location, endpoint, region, accessKeyId, secretAccessKey, file, key, cacheDir] =
    process.argv;
  const { createDeltaStore } = await import("../dist/index.js");
  const store = createDeltaStore({
    location,
    endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey },
    engine,
    cache: { dir: cacheDir },
  });
  const started = performance.now();
  const result = phase === "put" ? await store.put(file, key) : await store.get(key, file);
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  process.stdout.write(
    JSON.stringify({
      phase,
      engine,
      stored: result.stored ?? result.kind,
      bytes: result.fileBytes ?? result.bytes,
      storedBytes: result.storedBytes,
      seconds,
      nodePeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
  process.exit(0);
}

const sizeMiB = Number(process.argv[2] ?? 512);
const engines = (process.argv[3] ?? "xdelta3,zstd").split(",");
const { createTestBucket, startS3Server } = await import("@toolkit/shared/testing");
const dir = await mkdtemp(join(tmpdir(), "s3kit-delta-mem-"));

/** Incompressible 1 MiB blocks (one random seed, rotated per block), every fourth block zeros ("sparse-ish"). */
async function writeArtifact(path) {
  const out = createWriteStream(path);
  let seed = randomBytes(MIB);
  for (let i = 0; i < sizeMiB; i++) {
    const block = i % 4 === 3 ? Buffer.alloc(MIB) : seed;
    seed = Buffer.concat([seed.subarray(97), seed.subarray(0, 97)]);
    if (!out.write(block)) await new Promise((resolve) => out.once("drain", resolve));
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
}

// Version 2 is version 1 with a short edit in every 37th MiB.
const v1 = join(dir, "artifact-1.bin");
const v2 = join(dir, "artifact-2.bin");
await writeArtifact(v1);
execFileSync("cp", [v1, v2]);
const handle = await open(v2, "r+");
for (let i = 5; i < sizeMiB; i += 37) {
  await handle.write(Buffer.from(`release 2 change in block ${i}`), 0, undefined, i * MIB + 4096);
}
await handle.close();

const server = await startS3Server();
const rows = [];
try {
  for (const engine of engines) {
    const { url, client } = await createTestBucket(server, `mem-${engine.replace(/[^a-z0-9]/g, "")}`);
    client.destroy();
    const cacheDir = join(dir, `cache-${engine}`);
    const run = (phase, file, key, cache = cacheDir) => {
      const child = spawnSync(
        "/usr/bin/time",
        [
          "-f",
          "%M",
          process.execPath,
          self,
          "child",
          phase,
          engine,
          `${url}rel/`,
          server.endpoint,
          server.region,
          server.credentials.accessKeyId,
          server.credentials.secretAccessKey,
          file,
          key,
          cache,
        ],
        { encoding: "utf8", maxBuffer: 16 * MIB },
      );
      if (child.status !== 0) throw new Error(`${engine} ${phase} failed: ${child.stderr}`);
      const row = JSON.parse(child.stdout);
      row.treePeakRssMiB = Math.round(Number(child.stderr.trim().split("\n").pop()) / 1024);
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    };
    run("put", v1, "app/artifact-1.bin");
    run("put", v2, "app/artifact-2.bin");
    await rm(cacheDir, { recursive: true, force: true });
    run("get", join(dir, `out-${engine}.bin`), "app/artifact-2.bin", join(dir, `cold-${engine}`));
    execFileSync("cmp", [v2, join(dir, `out-${engine}.bin`)]);
    await rm(join(dir, `out-${engine}.bin`), { force: true });
    await rm(join(dir, `cold-${engine}`), { recursive: true, force: true });
  }
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
console.log(`| engine | phase | stored | MiB | stored bytes | s | Node peak RSS MiB | Node + child peak MiB |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(
    `| ${r.engine} | ${r.phase} | ${r.stored} | ${sizeMiB} | ${r.storedBytes ?? "–"} | ${r.seconds.toFixed(1)} | ${r.nodePeakRssMiB} | ${r.treePeakRssMiB} |`,
  );
}
