#!/usr/bin/env node
// `pnpm test:newcomer` (and `npm run test:all`, so CI): follow the root README the way a new user does, reading
// its commands out of README.md itself, so a README command that stops working fails CI:
//   1. the Install section's commands: pack the tarballs, `npm install` them into an empty folder, `npx s3kit
//      --help`, then `npx s3kit doctor --json`;
//   2. every line of the Examples section, as written, in order, against a local S3 (moto on 127.0.0.1, which
//      serves DynamoDB too) that this script starts.
// What is adapted, and only that: paths (`/path/to/s3kit` is this repository, `./tarballs` a temp folder, HOME a
// temp folder holding `~/Pictures/Lightroom`), the endpoint (AWS_ENDPOINT_URL, as the README's emulator note
// says) and emulator credentials. Needs Python's moto (`pip install 'moto[server]'`), as the integration tests. Each command's exit code and one key fact of its output are checked; an
// Examples line this script has no check for fails, so the README and the script cannot drift apart.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(join(repo, "README.md"), "utf8");
const work = mkdtempSync(join(tmpdir(), "s3kit-newcomer-"));
// S3KIT_NEWCOMER_TARBALLS=<dir>: reuse tarballs packed already (a quicker re-run while editing the README);
// the README's repository line is then not run.
const reused = process.env.S3KIT_NEWCOMER_TARBALLS;
const tarballs = reused ? resolve(reused) : join(work, "tarballs");
const project = join(work, "my-project");
const home = join(work, "home");
mkdirSync(project, { recursive: true });
mkdirSync(home, { recursive: true });

let passes = 0;
let failures = 0;
function check(name, ok, detail = "") {
  if (ok) passes++;
  else failures++;
  const shown = ok || !detail ? "" : `\n     ${detail.trim().split("\n").slice(-12).join("\n     ")}`;
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${name}${shown}\n`);
}

/** The first ```sh block under a `## <title>` heading, as command lines without their trailing comments. */
function commandsOf(title) {
  const section = readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  const block = section && /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error(`README.md has no \`\`\`sh block under "## ${title}"`);
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#\s.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Run one README line with bash, as typed at a prompt in `cwd`. */
function sh(line, cwd, env) {
  const started = Date.now();
  const r = spawnSync("bash", ["-c", line], { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return {
    code: r.status,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    seconds: (Date.now() - started) / 1000,
  };
}

const json = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * moto on 127.0.0.1, as the README's emulator note says: one port for S3 and DynamoDB (a MinIO the tests may
 * use instead serves no DynamoDB, so this script always starts moto). Its log goes to a file, never a pipe.
 */
async function startMoto() {
  const port = await new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: free } = probe.address();
      probe.close(() => resolvePort(free));
    });
  });
  const log = openSync(join(work, "moto.log"), "w");
  const child = spawn(
    process.env.S3KIT_PYTHON ?? "python3",
    ["-m", "moto.server", "-H", "127.0.0.1", "-p", `${port}`],
    {
      stdio: ["ignore", log, log],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "true" },
    },
  );
  closeSync(log);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited: ${readFileSync(join(work, "moto.log"), "utf8")}`);
    const up = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error("moto did not answer within 30 s (pip install 'moto[server]')");
    await new Promise((r) => setTimeout(r, 200));
  }
  const exited = new Promise((r) => child.once("exit", r));
  return {
    endpoint,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
const server = await startMoto();

// A new user's shell: a fresh HOME (no ~/.aws, no caches), emulator credentials, the endpoint in the standard
// variable, and the installed CLI on PATH (what `npm i -g s3kit` gives; `npx s3kit` in the project is the same).
const baseEnv = { ...process.env };
for (const k of Object.keys(baseEnv)) if (k.startsWith("AWS_") || k.startsWith("S3KIT_")) delete baseEnv[k];
const userEnv = {
  ...baseEnv,
  HOME: home,
  XDG_CACHE_HOME: join(home, ".cache"),
  XDG_CONFIG_HOME: join(home, ".config"),
  AWS_ENDPOINT_URL: server.endpoint,
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "newcomer-secret-never-printed",
  AWS_EC2_METADATA_DISABLED: "true",
  NO_COLOR: "1",
  PATH: `${join(project, "node_modules/.bin")}:${process.env.PATH}`,
  // The machine's npm cache, not a cold one in the fresh HOME: registry packages come from it, as they would
  // for a user who has used npm before (the run stays about a minute).
  npm_config_cache: process.env.npm_config_cache ?? join(homedir(), ".npm"),
};

try {
  // 1. Install, in the README's words.
  const install = commandsOf("Install");
  const adapt = (line) => line.replaceAll("/path/to/s3kit/tarballs", tarballs).replaceAll("./tarballs", tarballs);
  const [packLine, npmLine, ...tryLines] = install;
  check(
    "README install: three commands (pack, npm install, npx s3kit --help)",
    /pack-tarballs/.test(packLine ?? "") && /^npm install /.test(npmLine ?? "") && /npx s3kit/.test(tryLines[0] ?? ""),
    install.join("\n"),
  );
  if (reused) process.stdout.write(`skip ${packLine} (S3KIT_NEWCOMER_TARBALLS=${tarballs})\n`);
  else {
    const packed = sh(adapt(packLine), repo, process.env);
    check(`(${packed.seconds.toFixed(0)} s) ${packLine}`, packed.code === 0, packed.stderr + packed.stdout);
  }
  const installed = sh(adapt(npmLine), project, userEnv);
  check(
    `(${installed.seconds.toFixed(0)} s) ${npmLine}, in an empty folder`,
    installed.code === 0 && existsSync(join(project, "node_modules/.bin/s3kit")),
    installed.stderr + installed.stdout,
  );
  const help = sh(tryLines[0], project, userEnv);
  check(
    `${tryLines[0]} lists every topic and mb`,
    help.code === 0 &&
      ["photo-sync", "kv", "table", "delta", "object", "mb", "doctor"].every((t) => help.stdout.includes(t)),
    help.stderr + help.stdout,
  );
  const doctor = sh("npx s3kit doctor --json", project, userEnv);
  const report = json(doctor.stdout);
  check(
    "npx s3kit doctor --json: ok, the endpoint from AWS_ENDPOINT_URL answers, credentials resolve",
    doctor.code === 0 &&
      report?.ok === true &&
      report.endpoints?.s3?.source === "AWS_ENDPOINT_URL" &&
      report.s3?.reachable === true &&
      report.credentials?.resolved === true &&
      !doctor.stdout.includes(userEnv.AWS_SECRET_ACCESS_KEY),
    doctor.stderr + doctor.stdout,
  );

  // 2. What the Examples use: a small Lightroom library (with a previews cache the default excludes drop), a
  // site folder, a report, a release zip.
  const put = (path, body) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
  };
  const library = join(home, "Pictures/Lightroom");
  const photos = {
    "Lightroom Catalog.lrcat": randomBytes(64 * 1024),
    "2024/2024-06-01 Summer trip/IMG_0001.CR3": randomBytes(96 * 1024),
    "2024/2024-06-01 Summer trip/IMG_0001.xmp": "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>\n",
    "2025/Family/Portrait (1).jpg": randomBytes(48 * 1024),
  };
  for (const [rel, body] of Object.entries(photos)) put(join(library, rel), body);
  for (const n of [1, 2, 3]) put(join(library, `Lightroom Catalog Previews.lrdata/0/0${n}/p${n}.lrprev`), "preview");
  put(join(project, "site/index.html"), "<h1>hello</h1>\n");
  put(join(project, "site/about.html"), "<p>about</p>\n");
  put(join(project, "reports/q3.csv"), "quarter,revenue\nq3,42\n");
  put(join(project, "app-1.2.0.zip"), randomBytes(200 * 1024));
  const photoCount = Object.keys(photos).length;

  // Each Examples line (matched by its start) → what must hold after it ran.
  const expectations = [
    [/^s3kit mb s3:\/\/my-bucket$/, (r) => r.code === 0 && r.stdout.includes("make_bucket: s3://my-bucket")],
    [
      /^s3kit photo-sync ~\/Pictures\/Lightroom s3:\/\/my-bucket\/Lightroom --dry-run$/,
      (r) =>
        r.code === 0 &&
        r.stdout.includes("dry run: nothing changed") &&
        new RegExp(`would upload\\s+${photoCount} files`).test(r.stdout),
    ],
    [
      /^s3kit photo-sync ~\/Pictures\/Lightroom s3:\/\/my-bucket\/Lightroom$/,
      (r) => r.code === 0 && new RegExp(`uploaded\\s+${photoCount} files`).test(r.stdout),
    ],
    [
      /^s3kit photo-sync restore s3:\/\/my-bucket\/Lightroom ~\/Pictures\/Restored$/,
      (r) =>
        r.code === 0 &&
        Object.entries(photos).every(([rel, body]) => {
          const path = join(home, "Pictures/Restored", rel);
          return existsSync(path) && readFileSync(path).equals(Buffer.from(body));
        }) &&
        !existsSync(join(home, "Pictures/Restored/Lightroom Catalog Previews.lrdata")),
    ],
    [
      /^s3kit ls s3:\/\/my-bucket\/Lightroom\/ --json$/,
      (r) =>
        r.code === 0 &&
        json(r.stdout)?.entries?.some((e) => e.kind === "object" && e.key === "Lightroom Catalog.lrcat") === true,
    ],
    [
      /^s3kit object sync-up \.\/site s3:\/\/my-bucket\/site\/ --delete --dry-run$/,
      (r) =>
        r.code === 0 &&
        /would upload\s+2 files/.test(r.stdout) &&
        sh("s3kit ls s3://my-bucket/site/ --json", project, userEnv).stdout.includes('"objects": 0'),
    ],
    [
      /^s3kit object put \.\/reports\/q3\.csv s3:\/\/my-bucket\/reports\/q3\.csv$/,
      (r) => r.code === 0 && r.stdout.includes("uploaded"),
    ],
    [
      /^s3kit object get s3:\/\/my-bucket\/reports\/q3\.csv \.\/q3\.csv$/,
      (r) => r.code === 0 && readFileSync(join(project, "q3.csv"), "utf8") === "quarter,revenue\nq3,42\n",
    ],
    [
      /^s3kit kv set greeting '"hello"' --db \.\/notes\.db --remote s3:\/\/my-bucket\/dbs\/notes && s3kit kv push --db \.\/notes\.db$/,
      (r) => r.code === 0 && /pushed 1 value\b/.test(r.stdout),
    ],
    [
      /^s3kit delta cp \.\/app-1\.2\.0\.zip s3:\/\/my-bucket\/releases\/app\/$/,
      (r) => r.code === 0 && r.stdout.includes("s3://my-bucket/releases/app/app-1.2.0.zip"),
    ],
    [
      /^s3kit table init --table app && echo '\{"title":"first note"\}' \| s3kit table put --table app --type Note$/,
      (r) => r.code === 0 && r.stdout.includes("created table app") && r.stdout.includes('"title": "first note"'),
    ],
    [
      /^s3kit table list --table app --type Note --json$/,
      (r) => r.code === 0 && json(r.stdout)?.items?.[0]?.title === "first note",
    ],
  ];

  const examples = commandsOf("Examples");
  for (const line of examples) {
    const expectation = expectations.find(([pattern]) => pattern.test(line));
    if (!expectation) {
      check(`README example has a check in scripts/newcomer.mjs: ${line}`, false, "add one to `expectations`");
      continue;
    }
    const r = sh(line, project, userEnv);
    check(`${line}  (exit ${r.code})`, expectation[1](r) === true, `${r.stderr}\n${r.stdout}`);
  }
  const unused = expectations.filter(([pattern]) => !examples.some((line) => pattern.test(line)));
  check(
    "every check in scripts/newcomer.mjs still has its README example",
    unused.length === 0,
    unused.map(([p]) => String(p)).join("\n"),
  );
} finally {
  await server.stop();
}

process.stdout.write(`\nnewcomer: ${passes} passed, ${failures} failed\n`);
if (failures === 0) rmSync(work, { recursive: true, force: true });
else process.stdout.write(`kept ${work} for inspection\n`);
process.exitCode = failures === 0 ? 0 : 1;
