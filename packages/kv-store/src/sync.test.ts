import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { defineSyncSuite } from "./testing/sync-suite.ts";

defineSyncSuite("file://", async () => ({ url: pathToFileURL(mkdtempSync(join(tmpdir(), "kv-remote-"))).href }));
