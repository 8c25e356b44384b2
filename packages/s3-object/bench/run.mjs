// Benchmark of @toolkit/s3-object against its peers — `aws s3 cp` (aws cli v1), `rclone copyto` and
// `s3cmd put`/`get` — on the same object and the same local S3 server (moto) behind one counting proxy, in
// the same run. Each transfer runs in its own process under GNU time (bench/kit.mjs `timed`), so wall time,
// CPU time (user+sys) and peak RSS are measured the same way for every tool; the proxy counts the requests.
// Writes <BENCH_RESULT_DIR or bench/results>/<BENCH_RESULT_NAME or s3-object>.{md,json}.
//
//   pnpm --filter @toolkit/s3-object bench                        # 64 MiB (part of `pnpm bench`)
//   BENCH_SIZE_MIB=1024 pnpm --filter @toolkit/s3-object bench    # the issue's 1 GiB (~15 min on moto)
//
// Other settings: BENCH_TOOLS=s3-object,aws (tools whose name starts with one of these; default all installed),
// BENCH_CPU_PROF=<dir> (a V8 CPU profile of each s3-object process), BENCH_NODE_FLAGS="--flag" (the cold download
// once more with these Node flags, same run), BENCH_VARIANT_ENV="S3KIT_FAST_GET=0" (the cold download once more
// with these environment variables, same run: the Node HTTP body path as a "before"), BENCH_SKIP_UNCHANGED=1 (no
// "unchanged" rows), BENCH_UPLOAD_ONLY=1 (the upload rows only: no downloads, no "unchanged" rows).
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestBucket, startFaultProxy, startS3Server, warmUpS3Server } from "@toolkit/shared/testing";
import { awsEnv, rcloneEnv, root, timed as timedRun, which, writeS3cmdConfig } from "../../../bench/kit.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const resultName = process.env.BENCH_RESULT_NAME ?? "s3-object";
const resultDir = process.env.BENCH_RESULT_DIR ?? join(root, "bench", "results");
// 64 MiB by default, so `pnpm bench` stays short: moto serves a large object slowly (a 1 GiB download takes any
// tool over a minute here), and four tools each upload and download it.
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 64);
const size = sizeMiB * 1024 * 1024;
const wanted = process.env.BENCH_TOOLS?.split(",").filter(Boolean);
const use = (name) => !wanted || wanted.some((w) => name.startsWith(w));
/** The first line a tool prints for its version, or undefined when it is not installed. */
const version = (argv) => {
  if (!which(argv[0])) return undefined;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0].trim() || argv[0];
};
const peers = {
  aws: use("aws") ? version(["aws", "--version"])?.split(" ")[0] : undefined,
  rclone: use("rclone") ? version(["rclone", "version"]) : undefined,
  s3cmd: use("s3cmd") ? version(["s3cmd", "--version"]) : undefined,
};

async function writeRandomFile(path, bytes) {
  const out = createWriteStream(path);
  const chunk = 8 * 1024 * 1024;
  for (let done = 0; done < bytes; done += chunk) {
    if (!out.write(randomBytes(Math.min(chunk, bytes - done)))) await new Promise((r) => out.once("drain", r));
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
}

async function sha256(path) {
  const h = createHash("sha256");
  for await (const c of createReadStream(path)) h.update(c);
  return h.digest("hex");
}

const server = await startS3Server();
const proxy = await startFaultProxy({ target: server.endpoint });
const { bucket, client } = await createTestBucket(server, "bench-object");
client.destroy();
// A fresh moto's first large upload is slow for whoever comes first (s3-object): warm it up (BENCH_WARMUP=0 skips).
if (process.env.BENCH_WARMUP !== "0") await warmUpS3Server(server);
const work = await mkdtemp(join(tmpdir(), "s3o-bench-"));
// Ctrl-C: stop the servers this run started (moto is a child process).
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    void Promise.allSettled([proxy.stop(), server.stop(), rm(work, { recursive: true, force: true })]).then(() =>
      process.exit(130),
    );
  });
}
const env = awsEnv(server, {
  ...rcloneEnv({ endpoint: proxy.endpoint, server, configPath: join(work, "rclone.conf") }),
});
delete env.AWS_CA_BUNDLE;
const s3cmdConfig = join(work, "s3cmd.cfg");
writeS3cmdConfig(s3cmdConfig, { endpoint: proxy.endpoint, server });
const source = join(work, "source.bin");
await writeRandomFile(source, size);
const sourceHash = await sha256(source);
const rows = [];

/** Run one tool's process; throws when it fails (a bench of a failed transfer measures nothing). */
async function run(argv, extraEnv = {}) {
  const r = await timedRun(argv, { env: { ...env, ...extraEnv }, statsFile: join(work, "time.txt") });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.slice(-500)}`);
  return r;
}

async function measure(tool, operation, fn) {
  let before = proxy.requests.length;
  let r;
  let retried = false;
  try {
    r = await fn();
  } catch (error) {
    // moto sometimes answers 500 under load (seen once on aws's CompleteMultipartUpload of 1 GiB): one more try,
    // and a peer that fails again is recorded as failed rather than ending the run.
    process.stderr.write(`${tool} ${operation} failed, once more: ${String(error).slice(-600)}\n`);
    before = proxy.requests.length;
    retried = true;
    try {
      r = await fn();
    } catch (again) {
      if (tool === "s3-object") throw again;
      const row = { tool, operation, failed: String(again).slice(-300) };
      rows.push(row);
      return row;
    }
  }
  const requests = proxy.requests.slice(before);
  const row = {
    tool,
    operation,
    ...(retried ? { retried: true } : {}),
    wallS: r.wallMs / 1000,
    cpuS: r.cpuMs / 1000,
    maxRssMiB: r.rssMiB,
    requests: requests.length,
    requestsByMethod: Object.fromEntries(
      [...new Set(requests.map((q) => q.method))].map((m) => [m, requests.filter((q) => q.method === m).length]),
    ),
    bodyBytes: r.bodyBytes,
    transferred: r.transferred,
  };
  rows.push(row);
  process.stderr.write(`${tool.padEnd(14)} ${operation.padEnd(22)} ${JSON.stringify(row)}\n`);
  return row;
}

const profDir = process.env.BENCH_CPU_PROF;
const profArgs = (name) =>
  profDir
    ? ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-name", `${name.replace(/\W+/g, "-")}.cpuprofile`]
    : [];
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const opScript = join(here, "op.mjs");
const variantEnv = Object.fromEntries(
  (process.env.BENCH_VARIANT_ENV ?? "")
    .split(" ")
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
);
const ours = async (op, url, localPath, cacheDir, flags = [], extraEnv = {}) => {
  const out = join(work, "op-result.json");
  const r = await run(
    [
      process.execPath,
      ...flags,
      ...profArgs(`${op}-${rows.length}`),
      opScript,
      op,
      url,
      localPath,
      cacheDir,
      proxy.endpoint,
      out,
    ],
    extraEnv,
  );
  const result = JSON.parse(readFileSync(out, "utf8"));
  return { ...r, bodyBytes: result.bytes, transferred: result.transferred };
};
const full = (r) => ({ ...r, bodyBytes: size, transferred: true });
const awsArgs = ["aws", "--endpoint-url", proxy.endpoint, "s3"];
const s3cmdArgs = ["s3cmd", "-c", s3cmdConfig, "--no-progress", "-q"];
const rcloneUrl = (s3url) => s3url.replace(/^s3:\/\//, "bench:");

/** The peers, each with the same operations (a peer whose program is not installed is left out). */
const peerTools = [
  peers.aws && {
    name: "aws s3 cp",
    upload: (to) => run([...awsArgs, "cp", "--only-show-errors", source, to]).then(full),
    download: (from, to) => run([...awsArgs, "cp", "--only-show-errors", from, to]).then(full),
  },
  peers.rclone && {
    name: "rclone copyto",
    upload: (to) => run(["rclone", "copyto", source, rcloneUrl(to)]).then(full),
    download: (from, to) => run(["rclone", "copyto", rcloneUrl(from), to]).then(full),
    // rclone skips a file whose size and modification time match (one HEAD): its "unchanged" mode.
    unchanged: (from, to) =>
      run(["rclone", "copyto", rcloneUrl(from), to]).then((r) => ({ ...r, bodyBytes: 0, transferred: false })),
  },
  peers.s3cmd && {
    name: "s3cmd",
    upload: (to) => run([...s3cmdArgs, "put", source, to]).then(full),
    download: (from, to) => run([...s3cmdArgs, "get", "--force", from, to]).then(full),
  },
].filter(Boolean);

try {
  const cacheDir = join(work, "cache");
  const key = (tool) => `s3://${bucket}/${tool.replace(/\W+/g, "-")}/big.bin`;
  const oursKey = key("s3-object");
  const downloads = {};
  // Upload: every tool sends the same file to its own key.
  if (use("s3-object")) await measure("s3-object", "upload", () => ours("upload", oursKey, source, cacheDir));
  for (const peer of peerTools) await measure(peer.name, "upload", () => peer.upload(key(peer.name)));
  // Cold download into an empty place, every tool the same object (the one s3-object uploaded, or aws's when
  // s3-object is left out): s3-object with parallel ranged GETs, verified; the peers as they do by default.
  const object = use("s3-object") ? oursKey : key(peerTools[0].name);
  const uploadOnly = process.env.BENCH_UPLOAD_ONLY === "1";
  if (use("s3-object") && !uploadOnly) {
    downloads["s3-object"] = join(work, "down-s3-object", "big.bin");
    await measure("s3-object", "download (cold)", () => ours("download", object, downloads["s3-object"], cacheDir));
  }
  for (const peer of uploadOnly ? [] : peerTools) {
    const to = join(work, `down-${peer.name.replace(/\W+/g, "-")}`, "big.bin");
    await mkdir(dirname(to), { recursive: true });
    downloads[peer.name] = to;
    const row = await measure(peer.name, "download (cold)", () => peer.download(object, to));
    if (row.failed) delete downloads[peer.name];
  }
  if (Object.keys(variantEnv).length > 0 && use("s3-object") && !uploadOnly) {
    // The same cold download once more with other environment variables (e.g. S3KIT_FAST_GET=0: a same-run "before").
    const variant = join(work, "down-variant", "big.bin");
    await measure(`s3-object ${process.env.BENCH_VARIANT_ENV}`, "download (cold)", () =>
      ours("download", object, variant, join(work, "cache-variant"), [], variantEnv),
    );
    downloads[`s3-object ${process.env.BENCH_VARIANT_ENV}`] = variant;
  }
  if (nodeFlags.length > 0 && use("s3-object") && !uploadOnly) {
    const flagged = join(work, "down-flags", "big.bin");
    await measure(`s3-object ${nodeFlags.join(" ")}`, "download (cold)", () =>
      ours("download", object, flagged, join(work, "cache-flags"), nodeFlags),
    );
    await rm(flagged, { force: true });
  }
  const verified = {};
  for (const [tool, path] of Object.entries(downloads)) verified[tool] = (await sha256(path)) === sourceHash;
  if (Object.values(verified).includes(false))
    throw new Error(`downloaded bytes differ from the source: ${JSON.stringify(verified)}`);

  if (process.env.BENCH_SKIP_UNCHANGED !== "1" && !uploadOnly) {
    // Download again, object unchanged: s3-object sends one conditional GET (304). Of the peers, rclone copyto
    // compares size and modification time; `aws s3 sync` compares size and time (aws s3 cp and s3cmd get have no
    // such mode and move the whole object again, so they are left out). aws's cold download is already in place.
    if (use("s3-object"))
      await measure("s3-object", "download (unchanged)", () =>
        ours("download", object, downloads["s3-object"], cacheDir),
      );
    for (const peer of peerTools.filter((p) => p.unchanged))
      await measure(peer.name, "download (unchanged)", () => peer.unchanged(object, downloads[peer.name]));
    if (downloads["aws s3 cp"])
      await measure("aws s3 sync", "download (unchanged)", () =>
        run([
          ...awsArgs,
          "sync",
          "--only-show-errors",
          object.replace(/big\.bin$/, ""),
          dirname(downloads["aws s3 cp"]),
        ]).then((r) => ({ ...r, bodyBytes: 0, transferred: false })),
      );
    // Upload again, file unchanged: s3-object sends nothing (its state says unchanged).
    if (use("s3-object"))
      await measure("s3-object", "upload (unchanged)", () => ours("upload", oursKey, source, cacheDir));
  }

  const find = (tool, op) => rows.find((r) => r.tool === tool && r.operation === op);
  const ratio = (a, b, k) => (a && b && b[k] > 0 ? Number((a[k] / b[k]).toPrecision(2)) : undefined);
  const ratios = [];
  for (const op of ["upload", "download (cold)", "download (unchanged)"]) {
    const a = find("s3-object", op);
    for (const peer of [...peerTools.map((p) => p.name), "aws s3 sync"]) {
      const b = find(peer, op);
      if (a && b && !a.failed && !b.failed)
        ratios.push({
          operation: op,
          peer,
          wall: ratio(a, b, "wallS"),
          cpu: ratio(a, b, "cpuS"),
          rss: ratio(a, b, "maxRssMiB"),
          requests: `${a.requests} / ${b.requests}`,
        });
    }
  }
  // The issue's goals for 1 GiB: wall ≤ 1.0×, CPU ≤ 1.2×, peak RSS ≤ 1.5× of `aws s3 cp`.
  const goals = ratios
    .filter((r) => r.peer === "aws s3 cp" && r.operation !== "download (unchanged)")
    .map((r) => ({
      operation: r.operation,
      wall: r.wall <= 1.0,
      cpu: r.cpu <= 1.2,
      rss: r.rss <= 1.5,
    }));
  const settings = [
    "s3-object: 8 MiB parts, 8 in flight",
    "aws cli: defaults (8 MiB parts, 10 in flight)",
    "rclone: defaults (5 MiB upload chunks, 4 in flight; downloads over 250 MiB in 4 streams)",
    "s3cmd: defaults (15 MiB upload parts, one at a time; one GET)",
  ].filter((s) => use(s.split(/[: ]/)[0]));
  const result = {
    package: "@toolkit/s3-object",
    date: new Date().toISOString(),
    objectBytes: size,
    server: `moto (${server.source}) behind a counting proxy`,
    peers,
    node: process.version,
    settings,
    rows,
    ratios,
    goals,
    verified,
  };
  await mkdir(resultDir, { recursive: true });
  await writeFile(join(resultDir, `${resultName}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const yes = (ok) => (ok ? "yes" : "no");
  const md = [
    `# @toolkit/s3-object benchmark (${sizeMiB} MiB)`,
    "",
    `${sizeMiB} MiB random object, ${result.server}, ${Object.values(peers).filter(Boolean).join(", ")}, Node ${process.version}, ${result.date}.`,
    `Each transfer is its own process under GNU time (wall, user+sys CPU, peak RSS). ${settings.join("; ")}.`,
    "Every cold download reads the same object (the one s3-object uploaded). Wall times on this shared 2-core",
    "machine (moto runs on the same cores; other work may run at the same time) are noisy; request counts and",
    "bytes are exact, CPU time and peak RSS are the primary figures.",
    "",
    "| tool | operation | wall s | CPU s | peak RSS MiB | requests | body bytes |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      r.failed
        ? `| ${r.tool} | ${r.operation} | failed twice: ${r.failed.replace(/\|/g, "/").slice(-120)} | | | | |`
        : `| ${r.tool}${r.retried ? " *" : ""} | ${r.operation} | ${r.wallS.toFixed(2)} | ${r.cpuS.toFixed(2)} | ${r.maxRssMiB} | ${r.requests} (${Object.entries(
            r.requestsByMethod,
          )
            .map(([m, n]) => `${n} ${m}`)
            .join(", ")}) | ${r.bodyBytes.toLocaleString("en-US")} |`,
    ),
    "",
    "Ratios s3-object ÷ peer (lower is better), and requests (s3-object / peer):",
    "",
    "| operation | peer | wall | CPU | peak RSS | requests |",
    "|---|---|---:|---:|---:|---:|",
    ...ratios.map(
      (r) => `| ${r.operation} | ${r.peer} | ${r.wall ?? "-"} | ${r.cpu ?? "-"} | ${r.rss ?? "-"} | ${r.requests} |`,
    ),
    "",
    ...(goals.length > 0
      ? [
          "Goals of issue 15 against `aws s3 cp` (wall ≤ 1.0×, CPU ≤ 1.2×, peak RSS ≤ 1.5×):",
          "",
          "| operation | wall | CPU | peak RSS |",
          "|---|---|---|---|",
          ...goals.map((g) => `| ${g.operation} | ${yes(g.wall)} | ${yes(g.cpu)} | ${yes(g.rss)} |`),
          "",
        ]
      : []),
    ...(rows.some((r) => r.retried)
      ? ["A row marked * failed once (moto answered 500) and was measured on its second try.", ""]
      : []),
    "s3-object verifies every download (SHA-256 from its metadata, or the MD5/multipart ETag) before it",
    "replaces the local file; aws s3 cp does not verify multipart downloads, and neither rclone (no md5chksum",
    "metadata on this object) nor s3cmd (multipart ETag) can verify this one. An unchanged object costs s3-object",
    "one conditional GET answered 304 and no body.",
    "",
  ].join("\n");
  await writeFile(join(resultDir, `${resultName}.md`), md);
  process.stderr.write(`${md}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
  await proxy.stop();
  await server.stop();
}
