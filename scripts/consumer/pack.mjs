// Pack every workspace package into tarballs and install chosen ones into fresh npm projects outside the
// workspace — as users get them. Shared by the consumer test and the install/start-up benchmark.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(fileURLToPath(import.meta.url), "../../..");

/** `pnpm pack` each package (workspace:^ and catalog: become real ranges; the CLI's prepack writes its manifest). */
export function packAll(destination) {
  mkdirSync(destination, { recursive: true });
  const dirs = [
    "packages/shared",
    ...readdirSync(join(repo, "packages"))
      .filter((d) => d !== "shared" && existsSync(join(repo, "packages", d, "src")))
      .map((d) => `packages/${d}`),
    "apps/cli",
  ];
  const packed = {};
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(repo, dir, "package.json"), "utf8"));
    execFileSync("pnpm", ["pack", "--pack-destination", destination], {
      cwd: join(repo, dir),
      stdio: ["ignore", "ignore", "inherit"],
    });
    const prefix = `${pkg.name.replace("@", "").replace("/", "-")}-${pkg.version}`;
    const file = readdirSync(destination).find((f) => f.startsWith(prefix) && f.endsWith(".tgz"));
    if (!file) throw new Error(`pnpm pack wrote no tarball for ${pkg.name} in ${destination}`);
    packed[pkg.name] = join(destination, file);
  }
  return packed;
}

/**
 * An npm project at `dir` that installs `names` from their tarballs. Unpublished siblings resolve to the
 * tarballs through `overrides`; everything else comes from the registry as usual.
 */
export function installProject(dir, packed, names, { registryDeps = {}, devDependencies = {} } = {}) {
  mkdirSync(dir, { recursive: true });
  const overrides = Object.fromEntries(Object.entries(packed).map(([n, f]) => [n, `file:${f}`]));
  const dependencies = { ...registryDeps, ...Object.fromEntries(names.map((n) => [n, `file:${packed[n]}`])) };
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      { name: "consumer", private: true, type: "module", dependencies, devDependencies, overrides },
      null,
      2,
    ),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return dir;
}

/** Bytes on disk under a directory (as `du -sb`). */
export function diskBytes(dir) {
  return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
}
