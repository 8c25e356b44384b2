// One table of include/exclude cases (FILTER_CASES from @toolkit/shared/testing) run through every sync command
// that is on the shared engine: each must select exactly the table's files for the same --include/--exclude.
// object sync-up/sync-down run the same table against moto in object-sync-rails.test.ts; delta sync joins this list.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { openObjectStore } from "@toolkit/shared";
import { FILTER_CASES } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCli } from "./run-cli.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sync-filters-cli-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const run = (args: string[]) => startCli(args, { env: { XDG_CACHE_HOME: join(work, "cache") } }).done;

interface SyncCommand {
  name: string;
  /** The argv of a dry run with the case's filter flags; the source holds the case's files. */
  argv(local: string, storeUrl: string, filters: string[]): string[];
}

const COMMANDS: SyncCommand[] = [
  {
    name: "photo-sync (backup)",
    argv: (local, _store, filters) => [
      "photo-sync",
      local,
      pathToFileURL(join(work, "empty-store")).href,
      "--no-default-excludes",
      ...filters,
    ],
  },
  {
    name: "photo-sync restore",
    argv: (_local, store, filters) => [
      "photo-sync",
      "restore",
      store,
      join(work, "empty-folder"),
      "--no-default-excludes",
      ...filters,
    ],
  },
];

describe.each(FILTER_CASES.map((c, i) => ({ ...c, i })))("filter: $name", (c) => {
  test.each(COMMANDS)("$name selects the table's files", async (command) => {
    const local = join(work, `local-${c.i}`);
    const storeUrl = pathToFileURL(join(work, `store-${c.i}`)).href;
    const store = openObjectStore(storeUrl);
    for (const file of c.files) {
      await mkdir(dirname(join(local, file)), { recursive: true });
      await writeFile(join(local, file), file);
      await store.put(file.normalize("NFC"), file);
    }
    await store.close();
    const filters = [...c.exclude.flatMap((g) => ["--exclude", g]), ...c.include.flatMap((g) => ["--include", g])];
    const out = await run([...command.argv(local, storeUrl, filters), "--dry-run", "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const plan = JSON.parse(out.stdout) as { transfers: { key: string }[] };
    expect(plan.transfers.map((t) => t.key).sort()).toEqual(c.selected.map((f) => f.normalize("NFC")).sort());
  });
});
