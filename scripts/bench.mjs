// `pnpm bench`: run every package's `bench` script one after another (they share the machine's 2 cores),
// then gather their markdown into bench/results/README.md.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const results = "bench/results";
mkdirSync(results, { recursive: true });
const only = process.argv.slice(2);
const packages = [
  "packages/shared",
  ...readdirSync("packages")
    .filter((d) => d !== "shared")
    .map((d) => `packages/${d}`),
  "apps/cli",
];
const failed = [];
for (const dir of packages) {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (!pkg.scripts?.bench) continue;
  if (only.length > 0 && !only.some((name) => pkg.name.includes(name))) continue;
  process.stderr.write(`\n== bench ${pkg.name}\n`);
  try {
    execFileSync("pnpm", ["--filter", pkg.name, "bench"], { stdio: "inherit" });
  } catch {
    failed.push(pkg.name);
  }
}
if (only.length === 0 || only.includes("install")) {
  process.stderr.write("\n== bench install size and CLI start-up\n");
  try {
    execFileSync(process.execPath, ["scripts/bench-install.mjs"], { stdio: "inherit" });
  } catch {
    failed.push("install");
  }
}
const parts = readdirSync(results)
  .filter((f) => f.endsWith(".md") && f !== "README.md")
  .sort()
  .map((f) => readFileSync(join(results, f), "utf8").trim());
const header = `# Benchmark results\n\nWritten by \`pnpm bench\` on ${new Date().toISOString()} (Node ${process.version}, ${
  existsSync("/proc/cpuinfo") ? (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "") : ""
}). Ratios, request counts and CPU time hold on a noisy machine; wall times are for orientation only.\n`;
writeFileSync(join(results, "README.md"), [header, ...parts].join("\n\n") + "\n");
if (failed.length > 0) {
  process.stderr.write(`bench failed for: ${failed.join(", ")}\n`);
  process.exitCode = 1;
}
