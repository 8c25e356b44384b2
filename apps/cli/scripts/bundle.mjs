// `node scripts/bundle.mjs [outDir]` (after `tsc`; `npm pack` runs it as prepack): the CLI as a release ships it.
// esbuild bundles every oclif command of dist/ (one ES module entry per command file, code shared between commands
// in chunks), the help class, the hooks and @oclif/core itself into `outDir` (default ./bundle), then writes there
// the package.json oclif reads (paths relative to the bundle) and the oclif manifest (`oclif manifest` imports every
// bundled command once: a command that does not load fails the pack).
//
// Why (issue 15 (b)): from dist/ and node_modules a run of `s3kit photo-sync` loads ~370 modules, and Node's module
// loader (resolving, stat-ing, reading package.json scopes, compiling, format detection) was most of its start-up
// CPU; the bundle loads a few files. Measured figures: README.md, "Start-up".
//
// Left outside the bundle, resolved from node_modules at run time: better-sqlite3 (a native addon) and xdelta3-wasm
// (loads its WebAssembly beside itself); both are dependencies of the CLI for that reason. @aws-sdk/client-dynamodb
// stays outside too: @toolkit/shared loads it with createRequire, only for the table commands.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(cliRoot, "dist");
const outDir = resolve(process.argv[2] ?? join(cliRoot, "bundle"));
const pkg = JSON.parse(readFileSync(join(cliRoot, "package.json"), "utf8"));

/** Every .js file under `dir` (tsc output; declaration and map files skipped). */
function jsFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".js"))
    .map((e) => join(e.parentPath, e.name));
}

/** `./dist/x.js` (a path oclif reads from package.json) → the same file in the bundle, relative to its root. */
const inBundle = (path) => `./${relative(dist, resolve(cliRoot, path)).split("\\").join("/")}`;

const oclif = pkg.oclif;
const hooks = Object.fromEntries(
  Object.entries(oclif.hooks ?? {}).map(([event, paths]) => [
    event,
    Array.isArray(paths) ? paths.map(inBundle) : inBundle(paths),
  ]),
);
const entryPoints = [
  ...jsFiles(join(cliRoot, oclif.commands)),
  resolve(cliRoot, oclif.helpClass),
  ...Object.values(oclif.hooks ?? {})
    .flat()
    .map((p) => resolve(cliRoot, p)),
];

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// The entry bin/run.js imports (a virtual module): oclif's `execute`, run from the bundle's root, where its
// package.json is. Importing @oclif/core checks the Node version against the `engines` of a package.json it
// `require`s next to itself, with semver: in the bundle that file has no `engines`, so the check always failed
// silently, after loading semver and the CommonJS loader (~10 ms of CPU per run). OCLIF_DISABLE_ENGINE_WARNING
// skips it, set only while oclif is imported (the CLI's own `engines` is npm's to check at install).
const mainEntry = {
  name: "s3kit-bundle-main",
  setup(b) {
    b.onResolve({ filter: /^s3kit-bundle-main$/ }, () => ({ path: "main", namespace: "s3kit-bundle-main" }));
    b.onLoad({ filter: /.*/, namespace: "s3kit-bundle-main" }, () => ({
      contents: [
        "const had = process.env.OCLIF_DISABLE_ENGINE_WARNING;",
        'process.env.OCLIF_DISABLE_ENGINE_WARNING = "1";',
        'const oclif = await import("@oclif/core");',
        "const { execute } = oclif.execute ? oclif : oclif.default;",
        "if (had === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;",
        "else process.env.OCLIF_DISABLE_ENGINE_WARNING = had;",
        "await execute({ dir: import.meta.url });",
      ].join("\n"),
      resolveDir: cliRoot,
      loader: "js",
    }));
  },
};

// Node built-ins through process.getBuiltinModule, not as ES modules: an ES import of a built-in builds a facade
// that reads every export, and node:http's lazy WebSocket/CloseEvent/… getters then load undici, ~60–90 ms of CPU
// (the SDK's HTTP handler imports node:http when it sends the first request to an http:// endpoint). Each export
// is a pure read that esbuild drops when nothing imports it; require() calls stay plain external requires.
// Getters that load undici: left out (a module that needs one reads it from the default export), as a chunk that
// `import()`s the built-in keeps, and so reads, every export.
const undiciGetters = { "node:http": ["WebSocket", "CloseEvent", "MessageEvent"] };
const builtins = {
  name: "s3kit-builtins",
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_0-9/]+$/ }, (args) => {
      const bare = args.path.replace(/^node:/, "");
      if (!builtinModules.includes(bare) && !builtinModules.includes(`node:${bare}`)) return undefined;
      if (args.kind === "require-call" || args.kind === "require-resolve") return { path: args.path, external: true };
      return { path: `node:${bare}`, namespace: "s3kit-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "s3kit-builtin" }, ({ path }) => {
      const names = Object.keys(process.getBuiltinModule(path)).filter(
        (name) => name !== "default" && /^[A-Za-z_$][\w$]*$/.test(name) && !undiciGetters[path]?.includes(name),
      );
      return {
        contents: [
          `const __builtin = process.getBuiltinModule(${JSON.stringify(path)});`,
          "const __builtinRead = (name) => __builtin[name];",
          "export default __builtin;",
          ...names.map((name) => `export const ${name} = /* @__PURE__ */ __builtinRead(${JSON.stringify(name)});`),
        ].join("\n"),
        loader: "js",
      };
    });
  },
};

// zod as a namespace import: our packages write `import { z } from "zod"`, and esbuild keeps every export of a
// namespace it reaches through a named re-export (all of zod, ~450 KB minified, loaded and compiled by every run),
// while `import * as z from "zod"` (the same exports: zod's index re-exports them all) lets it keep only what the
// code uses (~90 KB for our schemas). Issue 15 (b): measured in apps/cli/README.md, "Start-up". Only the exact
// statement is rewritten, only in this workspace's compiled packages; any other form is left as it is.
const zodNamedImport = /^import \{ z \} from "zod";$/m;
const zodNamespace = {
  name: "s3kit-zod-namespace",
  setup(b) {
    b.onLoad({ filter: /[\\/](packages[\\/][^\\/]+|apps[\\/]cli)[\\/]dist[\\/].*\.js$/ }, ({ path }) => {
      if (path.includes("node_modules")) return undefined;
      const source = readFileSync(path, "utf8");
      if (!zodNamedImport.test(source)) return undefined;
      return { contents: source.replace(zodNamedImport, 'import * as z from "zod";'), loader: "js" };
    });
  },
};

// Dependencies of @oclif/core that only its help, error formatting, spinners and plugin discovery use, yet it
// `require`s at load: each becomes a stand-in that requires the module on its first use. A no-change photo-sync
// never prints help or a spinner, so it loads none of them (ejs, minimatch, tinyglobby and fdir, cli-spinners'
// table, wrap-ansi with string-width, emoji-regex and ansi-styles, …). The stand-in is a Proxy over the module.
const lazyOclifDependencies = new Set([
  "ejs",
  "minimatch",
  "tinyglobby",
  "cli-spinners",
  "wrap-ansi",
  "string-width",
  "widest-line",
  "indent-string",
  "clean-stack",
  "wordwrap",
  "ansi-escapes",
]);
const lazyRequire = {
  name: "s3kit-lazy-require",
  setup(b) {
    b.onResolve({ filter: /^[a-z][\w.-]*$/ }, (args) => {
      if (args.kind !== "require-call" || !lazyOclifDependencies.has(args.path)) return undefined;
      if (!/[\\/]@oclif[\\/]core[\\/]/.test(args.importer) || args.pluginData?.real) return undefined;
      return { path: args.path, namespace: "s3kit-lazy", pluginData: { resolveDir: args.resolveDir } };
    });
    b.onResolve({ filter: /^s3kit-real:/ }, async (args) => {
      const name = args.path.slice("s3kit-real:".length);
      const real = await b.resolve(name, {
        kind: "require-call",
        resolveDir: args.pluginData.resolveDir,
        pluginData: { real: true },
      });
      return real.errors.length > 0 ? { errors: real.errors } : { path: real.path, namespace: real.namespace };
    });
    b.onLoad({ filter: /.*/, namespace: "s3kit-lazy" }, async ({ path, pluginData }) => {
      const real = `s3kit-real:${path}`;
      // TypeScript's import helpers read `__esModule` at once: the stand-in answers it as the module does (read here,
      // in the bundler's process), without loading it at run time.
      const esModule = createRequire(join(pluginData.resolveDir, "index.js"))(path).__esModule === true;
      return {
        contents: [
          "let module_;",
          `const load = () => (module_ ??= require(${JSON.stringify(real)}));`,
          "module.exports = new Proxy(() => {}, {",
          `  get: (_, key) => (key === "__esModule" ? ${esModule} : load()[key]),`,
          "  set: (_, key, value) => { load()[key] = value; return true; },",
          "  has: (_, key) => key in load(),",
          "  ownKeys: () => Reflect.ownKeys(load()),",
          "  getOwnPropertyDescriptor: (_, key) => {",
          "    const d = Reflect.getOwnPropertyDescriptor(load(), key);",
          "    return d && { ...d, configurable: true };",
          "  },",
          "  apply: (_, self, args) => Reflect.apply(load(), self, args),",
          "  construct: (_, args) => Reflect.construct(load(), args),",
          "});",
        ].join("\n"),
        resolveDir: pluginData.resolveDir,
        pluginData,
        loader: "js",
      };
    });
  },
};

// @oclif/core sorts the manifest's commands with `localeCompare` when it loads them: its first call builds an ICU
// collator, ~8 ms of CPU per run. The bundle sorts by code point instead; below, the pack fails if that would ever
// order this CLI's command ids differently.
const oclifLocaleSort = ".sort((a, b) => a.id.localeCompare(b.id));";
const oclifCodePointSort = ".sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));";
const oclifSort = {
  name: "s3kit-oclif-sort",
  setup(b) {
    b.onLoad({ filter: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/ }, ({ path }) => {
      const source = readFileSync(path, "utf8");
      if (!source.includes(oclifLocaleSort)) return undefined;
      return { contents: source.replace(oclifLocaleSort, oclifCodePointSort), loader: "js" };
    });
  },
};

const { metafile } = await build({
  entryPoints: [...entryPoints, { in: "s3kit-bundle-main", out: "main" }],
  plugins: [mainEntry, builtins, zodNamespace, lazyRequire, oclifSort],
  absWorkingDir: cliRoot,
  outbase: dist,
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  // ES module builds where a package has both (the AWS SDK's dist-es): no CommonJS wrappers, better tree-shaking.
  mainFields: ["module", "main"],
  chunkNames: "chunks/[name]-[hash]",
  external: [
    "better-sqlite3",
    "xdelta3-wasm",
    "@aws-sdk/client-dynamodb",
    // oclif requires these only to run a plugin from TypeScript sources, which a release never does.
    "typescript",
    "ts-node",
    "tsx",
  ],
  // CommonJS dependencies (oclif, …) call require() and read __dirname; give every output file both.
  banner: {
    js: [
      'import { createRequire as __bundleCreateRequire } from "node:module";',
      'import { fileURLToPath as __bundleFileURLToPath } from "node:url";',
      "const require = __bundleCreateRequire(import.meta.url);",
      "const __filename = __bundleFileURLToPath(import.meta.url);",
      'const __dirname = __filename.slice(0, __filename.lastIndexOf("/"));',
    ].join(" "),
  },
  // Minified: ~40 % less source for V8 to read, hash and lazily compile (about 50 ms of CPU less per photo-sync
  // run); names kept, as errors and classes are told apart by name in places.
  minify: true,
  keepNames: true,
  // Licence notices of the bundled packages go to one file instead (below).
  legalComments: "none",
  metafile: true,
  // S3KIT_BUNDLE_SOURCEMAP=1 (profiling only, never a release): source maps beside each file, and the metafile as
  // meta.json, so a `--cpu-prof` profile of the bundle can be charged to source files and packages.
  ...(process.env.S3KIT_BUNDLE_SOURCEMAP === "1" ? { sourcemap: "linked" } : {}),
  logLevel: "warning",
});
if (process.env.S3KIT_BUNDLE_SOURCEMAP === "1") writeFileSync(join(outDir, "meta.json"), JSON.stringify(metafile));

// The bundle holds other packages' code: ship their licences with it, one notice per bundled package.
const bundledPackages = new Map();
for (const input of Object.keys(metafile.inputs)) {
  const at = input.lastIndexOf("node_modules/");
  if (at === -1) continue;
  const rest = input.slice(at + "node_modules/".length).split("/");
  const name = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  const packageDir = resolve(cliRoot, input.slice(0, at + "node_modules/".length) + name);
  if (!bundledPackages.has(packageDir)) bundledPackages.set(packageDir, name);
}
const notices = [...bundledPackages]
  .map(([packageDir, name]) => {
    const meta = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
    const licenceFile = readdirSync(packageDir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = licenceFile ? readFileSync(join(packageDir, licenceFile), "utf8").trim() : "(no licence file)";
    return { id: `${name}@${meta.version}`, licence: meta.license ?? "see below", text };
  })
  .sort((a, b) => (a.id < b.id ? -1 : 1));
writeFileSync(
  join(outDir, "THIRD-PARTY-LICENSES.txt"),
  `The s3kit bundle includes code from these packages:\n\n${notices
    .map((n) => `${"=".repeat(78)}\n${n.id} (${n.licence})\n\n${n.text}\n`)
    .join("\n")}`,
);

// The package.json oclif reads at the bundle's root: this CLI's, with its paths inside the bundle. "type": "module"
// also spares Node's module-format detection for every bundled file.
writeFileSync(
  join(outDir, "package.json"),
  `${JSON.stringify(
    {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      private: true,
      type: "module",
      files: ["*"],
      oclif: {
        ...oclif,
        commands: inBundle(oclif.commands),
        helpClass: inBundle(oclif.helpClass),
        hooks,
      },
    },
    null,
    2,
  )}\n`,
);

const oclifBin = join(cliRoot, "node_modules/.bin/oclif");
const made = spawnSync(oclifBin, ["manifest", outDir], { encoding: "utf8" });
if (made.status !== 0) throw new Error(`oclif manifest failed for ${outDir}:\n${made.stderr}${made.stdout}`);
const manifest = JSON.parse(readFileSync(join(outDir, "oclif.manifest.json"), "utf8"));
const commandCount = Object.keys(manifest.commands).length;
if (commandCount === 0) throw new Error("the bundled oclif manifest lists no command");
const ids = Object.keys(manifest.commands);
const byLocale = [...ids].sort((a, b) => a.localeCompare(b)).join(" ");
if (byLocale !== [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(" "))
  throw new Error("command ids sort differently by code point and by locale: drop the s3kit-oclif-sort plugin");
// The bundle must start: `main.js --version` prints this version.
const started = spawnSync(process.execPath, [join(outDir, "main.js"), "--version"], { encoding: "utf8" });
if (started.status !== 0 || !started.stdout.includes(pkg.version))
  throw new Error(`the bundle does not start (${started.status}):\n${started.stderr}${started.stdout}`);
process.stdout.write(`bundled ${commandCount} commands into ${relative(process.cwd(), outDir) || "."}\n`);
