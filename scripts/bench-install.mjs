// Install and start-up benchmark (issue "Ship it"): installed size of each library alone and of the CLI, from
// the packed tarballs in fresh npm projects; CLI start-up (`--version`, `--help`, median of 10) beside
// `aws --version` and `rclone version` in the same run. Writes bench/results/install.{md,json}.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diskBytes, installProject, packAll, repo } from "./consumer/pack.mjs";

const RUNS = 10;
const work = mkdtempSync(join(tmpdir(), "s3kit-bench-install-"));
const packed = packAll(join(work, "tarballs"));

const sizes = [];
for (const name of Object.keys(packed)) {
  const dir = installProject(join(work, name.replace(/\W+/g, "-")), packed, [name]);
  sizes.push({ package: name, installedBytes: diskBytes(join(dir, "node_modules")) });
}

function startup(label, cmd, args) {
  const times = [];
  let cpuMs = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const start = performance.now();
    const r = spawnSync(
      "bash",
      ["-c", 'TIMEFORMAT="%U %S"; { time "$@" >/dev/null 2>&1; } 2>&1', "bash", cmd, ...args],
      {
        encoding: "utf8",
      },
    );
    const wall = performance.now() - start;
    if (r.status !== 0 || r.error) return { label, error: (r.stderr || r.error?.message || "failed").trim() };
    if (i === 0) continue; // warm-up: page cache, compile cache
    times.push(wall);
    const [user, sys] = r.stdout.trim().split(/\s+/).map(Number);
    cpuMs += ((user ?? 0) + (sys ?? 0)) * 1000;
  }
  times.sort((a, b) => a - b);
  return { label, medianMs: Math.round(times[Math.floor(times.length / 2)]), cpuMsPerRun: Math.round(cpuMs / RUNS) };
}

const cli = join(work, "s3kit/node_modules/s3kit/bin/run.js");
const rows = [
  startup("s3kit --version", process.execPath, [cli, "--version"]),
  startup("s3kit --help", process.execPath, [cli, "--help"]),
  startup("aws --version (peer)", "aws", ["--version"]),
  startup("rclone version (peer)", "rclone", ["version"]),
];
const s3kitVersion = rows[0].medianMs;
const peers = rows.slice(2).filter((r) => r.medianMs);
const fmt = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const md = [
  "# Install size and CLI start-up",
  "",
  "Installed from the packed tarballs into fresh npm projects (third-party dependencies from the registry).",
  "",
  "| package installed alone | node_modules on disk |",
  "|---|---:|",
  ...sizes.map((s) => `| ${s.package} | ${fmt(s.installedBytes)} |`),
  "",
  `Start-up, median of ${RUNS} runs after one warm-up, same machine, same run:`,
  "",
  "| command | median wall ms | CPU ms per run |",
  "|---|---:|---:|",
  ...rows.map((r) =>
    r.error
      ? `| ${r.label} | not available: ${r.error.split("\n")[0]} | – |`
      : `| ${r.label} | ${r.medianMs} | ${r.cpuMsPerRun} |`,
  ),
  "",
  ...peers.map(
    (p) => `- \`s3kit --version\` vs ${p.label}: ${(p.medianMs / s3kitVersion).toFixed(2)}× (above 1 = s3kit faster)`,
  ),
  "",
].join("\n");
mkdirSync(join(repo, "bench/results"), { recursive: true });
writeFileSync(join(repo, "bench/results/install.md"), md);
writeFileSync(join(repo, "bench/results/install.json"), JSON.stringify({ sizes, startup: rows }, null, 2));
process.stdout.write(md);
rmSync(work, { recursive: true, force: true });
