#!/usr/bin/env node
// oclif entry point of the `s3kit` binary. Commands load from ./dist/commands (or oclif.manifest.json when packed).
import { execute } from "@oclif/core";

await execute({ dir: import.meta.url });
