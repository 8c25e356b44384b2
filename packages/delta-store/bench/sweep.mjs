// Level / flag sweep of the delta engines on the bench corpora (issue 15): size vs CPU vs wall vs peak RSS.
// Usage: node bench/sweep.mjs [rounds=3]   (after `pnpm bench` has fetched the corpora into bench/.corpus)
// Every version is encoded against the first (as delta-store does), each config `rounds` times interleaved
// with the others; CPU (user+sys of the encoder, from /usr/bin/time or process.cpuUsage) is the median round.
// Every xdelta3 delta is decoded once with a plain `xdelta3 -d -s ref` (what DeltaGlider runs) and compared.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createZstdEngine } from "../dist/engines/zstd.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..", "..");
const rounds = Number(process.argv[2] ?? 3);
const out = join(tmpdir(), `s3kit-sweep-${process.pid}.out`);
const back = join(tmpdir(), `s3kit-sweep-${process.pid}.back`);

const pow2AtLeast = (n) => {
  let w = 1 << 20;
  while (w < n) w *= 2;
  return w;
};

/** [label, (ref, refSize) => args] for `xdelta3 -e -f <args> -s ref target out`. */
const xdeltaConfigs = [
  ["xdelta3 -9 (-B 64 MiB: before)", () => ["-9"]],
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((l) => [
    `xdelta3 -${l} -B ref`,
    (_r, n) => [`-${l}`, "-B", String(pow2AtLeast(n))],
  ]),
  ...[1, 3, 5, 6, 9].map((l) => [
    `xdelta3 -${l} -B ref -W 16 MiB`,
    (_r, n) => [`-${l}`, "-B", String(pow2AtLeast(n)), "-W", String(16 << 20)],
  ]),
  ...[3, 6, 9].map((l) => [
    `xdelta3 -${l} -N -B ref -W 16 MiB`,
    (_r, n) => [`-${l}`, "-N", "-B", String(pow2AtLeast(n)), "-W", String(16 << 20)],
  ]),
  ["xdelta3 -9 -B ref -S djw", (_r, n) => ["-9", "-B", String(pow2AtLeast(n)), "-S", "djw"]],
  ["xdelta3 -9 -B ref -S none", (_r, n) => ["-9", "-B", String(pow2AtLeast(n)), "-S", "none"]],
  ["xdelta3 -3 -B ref -S none", (_r, n) => ["-3", "-B", String(pow2AtLeast(n)), "-S", "none"]],
  ["xdelta3 -9 -B ref -N", (_r, n) => ["-9", "-B", String(pow2AtLeast(n)), "-N"]],
  ["xdelta3 -9 -B ref -n", (_r, n) => ["-9", "-B", String(pow2AtLeast(n)), "-n"]],
];
const zstdCliLevels = [1, 3, 6, 9, 12, 19];
const zstdNodeLevels = [3, 6, 9, 12];

function timed(cmd, args) {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", cmd, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  const [e, u, s, m] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number);
  return { wallMs: e * 1000, cpuMs: (u + s) * 1000, rssMiB: m / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function sweep(label, dir) {
  const files = readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const ref = join(dir, files[0]);
  const refSize = statSync(ref).size;
  const targets = files.slice(1).map((f) => join(dir, f));
  const original = refSize + targets.reduce((s, t) => s + statSync(t).size, 0);
  const targetBytes = original - refSize;
  /** name → { deltaBytes, cpu: number[] per round, wall: number[], rss } */
  const rows = new Map();
  const configs = [
    ...xdeltaConfigs.map(([name, args]) => ({
      name,
      cmd: (t) => ["xdelta3", ["-e", "-f", ...args(ref, refSize), "-s", ref, t, out]],
      vcdiff: true,
    })),
    ...zstdCliLevels.map((l) => ({
      name: `zstd CLI -${l} --patch-from`,
      cmd: (t) => ["zstd", ["-q", "-f", `-${l}`, `--patch-from=${ref}`, t, "-o", out]],
    })),
    ...zstdNodeLevels.map((l) => ({ name: `zstd engine (node:zlib) -${l}`, node: createZstdEngine({ level: l }) })),
  ];
  for (let round = 0; round < rounds; round++) {
    for (const c of configs) {
      let deltaBytes = 0;
      let cpu = 0;
      let wall = 0;
      let rss = 0;
      for (const t of targets) {
        if (c.node) {
          const c0 = process.cpuUsage();
          const w0 = performance.now();
          const r = await c.node.encode({
            referencePath: ref,
            referenceSize: refSize,
            targetPath: t,
            targetSize: statSync(t).size,
            outputPath: out,
            maxOutputBytes: Number.MAX_SAFE_INTEGER,
          });
          const c1 = process.cpuUsage(c0);
          cpu += (c1.user + c1.system) / 1000;
          wall += performance.now() - w0;
          deltaBytes += r.size;
        } else {
          const [cmd, args] = c.cmd(t);
          const m = timed(cmd, args);
          cpu += m.cpuMs;
          wall += m.wallMs;
          rss = Math.max(rss, m.rssMiB);
          deltaBytes += statSync(out).size;
          if (c.vcdiff && round === 0) {
            // What DeltaGlider runs to read it: no flags but the source.
            const d = spawnSync("xdelta3", ["-d", "-f", "-s", ref, out, back]);
            if (d.status !== 0 || !readFileSync(back).equals(readFileSync(t))) {
              throw new Error(`${c.name}: plain xdelta3 -d does not rebuild ${t}`);
            }
          }
        }
      }
      const row = rows.get(c.name) ?? { name: c.name, deltaBytes, cpu: [], wall: [], rss: 0 };
      row.cpu.push(cpu);
      row.wall.push(wall);
      row.rss = Math.max(row.rss, rss);
      rows.set(c.name, row);
      process.stderr.write(`${label} r${round} ${c.name}: ${deltaBytes} B, ${cpu.toFixed(0)} ms CPU\n`);
    }
  }
  const base = rows.get(xdeltaConfigs[0][0]);
  return {
    label,
    files: files.length,
    originalBytes: original,
    referenceBytes: refSize,
    targetBytes,
    rows: [...rows.values()].map((r) => {
      const stored = refSize + r.deltaBytes;
      const cpuMs = median(r.cpu);
      const wallMs = median(r.wall);
      return {
        config: r.name,
        deltaBytes: r.deltaBytes,
        deltaVsBefore: r.deltaBytes / base.deltaBytes,
        savingsPct: (1 - stored / original) * 100,
        savingsPpVsBefore: (1 - stored / original - (1 - (refSize + base.deltaBytes) / original)) * 100,
        cpuMs,
        cpuRounds: r.cpu,
        wallMs,
        encodeMBpsCpu: targetBytes / 1e6 / (cpuMs / 1000),
        encodeMBpsWall: targetBytes / 1e6 / (wallMs / 1000),
        peakRssMiB: r.rss || undefined,
      };
    }),
  };
}

const corpus = join(here, ".corpus");
const sets = [];
for (const [label, dir] of [
  ["prettier 3.9.5..3.9.10 (10 MB .tar)", join(corpus, "prettier")],
  ["synthetic 900 KB binary, 6 versions", join(corpus, "small")],
]) {
  sets.push(await sweep(label, dir));
}

const fmt = (n, d = 1) => (n === undefined ? "–" : n.toFixed(d));
let md = `# @toolkit/delta-store engine sweep\n\nRun ${new Date().toISOString()} (\`node bench/sweep.mjs ${rounds}\`), Node ${process.version}, ${rounds} rounds interleaved, median CPU. Encode only (no S3): each version against the first. Other work ran on this shared 2-core machine at the same time, so wall times are noisy; CPU (user+sys of the encoder) is the primary figure. Savings = 1 − (reference + deltas) / original. Every xdelta3 delta was rebuilt by a plain \`xdelta3 -d -s reference\`.\n\n`;
for (const s of sets) {
  md += `## ${s.label}\n\n${s.files} files, ${fmt(s.originalBytes / 1e6)} MB original, ${fmt(s.targetBytes / 1e6)} MB encoded.\n\n| config | delta bytes | × before | savings | Δ pp vs before | encode CPU ms | MB/s per CPU s | wall ms | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of s.rows) {
    md += `| ${r.config} | ${r.deltaBytes.toLocaleString("en")} | ${fmt(r.deltaVsBefore, 3)} | ${fmt(r.savingsPct, 2)}% | ${r.savingsPpVsBefore >= 0 ? "+" : ""}${fmt(r.savingsPpVsBefore, 3)} | ${fmt(r.cpuMs, 0)} | ${fmt(r.encodeMBpsCpu)} | ${fmt(r.wallMs, 0)} | ${fmt(r.peakRssMiB, 0)} |\n`;
  }
  md += "\n";
}
writeFileSync(join(repoRoot, "bench", "results", "delta-store-sweep.md"), md);
writeFileSync(
  join(repoRoot, "bench", "results", "delta-store-sweep.json"),
  JSON.stringify({ date: new Date().toISOString(), rounds, sets }, null, 2),
);
process.stdout.write(md);
