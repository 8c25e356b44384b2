#!/usr/bin/env node
// oclif entry point of the `s3kit` binary. Commands load from ./dist/commands, or from oclif.manifest.json
// in a packed release (generated at prepack), which spares importing every command to read its flags.
import module from "node:module";

// Node >= 22.1: cache compiled code between runs (start-up; a no-op where unsupported).
module.enableCompileCache?.();

// `s3kit ls … | head`: a reader that goes away is not an error; stop quietly, as other Unix tools do.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const { execute } = await import("@oclif/core");
await execute({ dir: import.meta.url });
