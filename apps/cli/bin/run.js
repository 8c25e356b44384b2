#!/usr/bin/env node
// oclif entry point of the `s3kit` binary. A packed release runs ../bundle (written at prepack by
// scripts/bundle.mjs: each command one ES module with shared chunks, and its oclif manifest), so a run loads a few
// files instead of ~370 modules from dist/ and node_modules. The source tree (it has src/) always runs dist/, what
// tsc last built, even while a pack has a bundle there: commands load from ./dist/commands, every one imported at
// start to read its flags (no manifest either; it would go stale).
import { existsSync } from "node:fs";
import module from "node:module";

// V8 optimises hot functions on background threads by default. A CLI run is short: measured on a no-change
// `s3kit photo-sync` of 2,000 files (issue 15 (b)), optimising on the main thread instead costs ~30 ms (6 %) less
// CPU in all (README.md, "Start-up"). Set before any code is hot, and before the compile cache is enabled (V8's
// flags are part of the cache's key).
process.getBuiltinModule?.("node:v8")?.setFlagsFromString("--no-concurrent-recompilation");

// Node >= 22.1: cache compiled code between runs (start-up; a no-op where unsupported).
module.enableCompileCache?.();

// `s3kit ls … | head`: a reader that goes away is not an error; stop quietly, as other Unix tools do.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const bundled = new URL("../bundle/main.js", import.meta.url);
if (!existsSync(new URL("../src", import.meta.url)) && existsSync(bundled)) {
  await import(bundled.href);
} else {
  const { execute } = await import("@oclif/core");
  await execute({ dir: import.meta.url });
}
