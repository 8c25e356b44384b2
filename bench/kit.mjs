// What the transfer benchmarks share (packages/photo-sync/bench/run.mjs, packages/shared/bench/large-files.mjs):
// finding peer tools, running s3kit as a release installs it, timing a child process with GNU time, and rclone's
// configuration for the local S3 server. Repository-only: no package ships it.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The CLI as this tree has it (no oclif manifest). */
export const treeCli = join(root, "apps/cli/bin/run.js");

/** The path of a program on PATH, or undefined. */
export const which = (bin) =>
  spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).stdout.trim() || undefined;

const gnuTime = which("/usr/bin/time") ? "/usr/bin/time" : undefined;

/**
 * s3kit as a release installs it, in `<work>/s3kit-cli`: bin/run.js with the bundle `npm pack` writes (prepack runs
 * apps/cli/scripts/bundle.mjs: each command one ES module with shared chunks, and the oclif manifest), so a run
 * loads a few files and only its own command. This tree has neither (they would go stale between builds): from it
 * oclif imports every command at start from dist/ and node_modules (kv, table, delta, object: SQLite, the DynamoDB
 * client, …), CPU and memory that no installed s3kit pays. node_modules is the tree's (the bundle's externals,
 * better-sqlite3 and xdelta3-wasm, resolve there). Returns the path of its `bin/run.js`.
 */
export function installedCli(work) {
  const dir = join(work, "s3kit-cli");
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(root, "apps/cli/bin/run.js"), join(dir, "bin/run.js"));
  copyFileSync(join(root, "apps/cli/package.json"), join(dir, "package.json"));
  symlinkSync(join(root, "apps/cli/node_modules"), join(dir, "node_modules"));
  const made = spawnSync(process.execPath, [join(root, "apps/cli/scripts/bundle.mjs"), join(dir, "bundle")], {
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(`apps/cli/scripts/bundle.mjs failed: ${made.stderr}`);
  return join(dir, "bin/run.js");
}

/**
 * Run `argv` with exactly `env`, under GNU time when the machine has it: wall ms, client CPU ms (user+sys) and
 * peak RSS MiB of the process (CPU and RSS are null without GNU time), its exit code and the end of its stderr.
 * `statsFile` is where GNU time writes.
 */
export function timed(argv, { env, statsFile }) {
  const full = gnuTime ? [gnuTime, "-f", "%e %U %S %M", "-o", statsFile, ...argv] : argv;
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(full[0], full.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.on("close", (code) => {
      const wallMs = performance.now() - start;
      let cpuMs = null;
      let rssMiB = null;
      if (gnuTime) {
        const [, user, sys, rssKiB] = readFileSync(statsFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
        cpuMs = Math.round((user + sys) * 1000);
        rssMiB = Math.round(rssKiB / 1024);
      }
      resolve({ code, wallMs: Math.round(wallMs), cpuMs, rssMiB, stderr: stderr.trim() });
    });
  });
}

/** The environment of a tool run against the local S3 server: the process's, with the server's credentials and region. */
export function awsEnv(server, extra = {}) {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region,
    AWS_DEFAULT_REGION: server.region,
    ...extra,
  };
}

/** rclone's environment for a remote named `bench` on the local S3 server (credentials never printed). */
export function rcloneEnv({ endpoint, server, configPath }) {
  return {
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: server.credentials.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    RCLONE_CONFIG_BENCH_REGION: server.region,
    RCLONE_CONFIG: configPath,
  };
}

/** Write an s3cmd configuration for the local S3 server (plain http, SigV4) to `path`. */
export function writeS3cmdConfig(path, { endpoint, server }) {
  const host = endpoint.replace(/^http:\/\//, "");
  writeFileSync(
    path,
    `[default]\naccess_key = ${server.credentials.accessKeyId}\nsecret_key = ${server.credentials.secretAccessKey}\nhost_base = ${host}\nhost_bucket = ${host}\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n`,
  );
}
