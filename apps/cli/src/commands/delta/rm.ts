import { Args, Flags } from "@oclif/core";
import { createPathFilter } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import { openDeltaStore, orderedFilters, parseTarget } from "../../topics/delta.ts";

export default class DeltaRm extends BaseCommand<typeof DeltaRm> {
  static override summary = "Delete files from a delta store; a reference goes only when nothing depends on it";
  static override examples = [
    "<%= config.bin %> delta rm s3://my-bucket/releases/app/app-1.0.0.zip",
    "<%= config.bin %> delta rm s3://my-bucket/releases/app/ --recursive --dryrun",
  ];
  static override args = {
    url: Args.string({ description: "s3://bucket/key (or a prefix with --recursive)", required: true }),
  };
  static override flags = {
    recursive: Flags.boolean({
      char: "r",
      description: "Delete every file under the prefix (a folder: app never reaches app-old/)",
    }),
    exclude: Flags.string({
      description: "With --recursive: keep paths matching this glob (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    include: Flags.string({
      description: "With --recursive: delete paths an --exclude kept (repeatable; later rules win)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    dryrun: Flags.boolean({ description: "Show what would be deleted (same as --dry-run)" }),
    "dry-run": Flags.boolean({ description: "Show what would be deleted", hidden: true }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = this;
    const dryRun = flags.dryrun || flags["dry-run"];
    const target = parseTarget(args.url, !flags.recursive);
    const store = openDeltaStore(target.location, this.clientOptions(), this.logger);
    try {
      if (flags.recursive) {
        const prefix = target.path === "" || target.path.endsWith("/") ? target.path : `${target.path}/`;
        const filters = orderedFilters(this.argv);
        const included = createPathFilter({ filters });
        const result = await store.deletePrefix(target.path, {
          ...(filters.length > 0 ? { filter: (key: string) => included(key.slice(prefix.length)) } : {}),
          dryRun,
          signal: this.signal,
        });
        for (const key of result.deleted) this.log(`${dryRun ? "(dryrun) " : ""}delete: ${store.url}${key}`);
        for (const ref of result.referencesDeleted) this.log(`delete: ${store.url}${ref} (no dependents left)`);
        const withWarnings = { ...result, warnings: [...store.warnings] };
        if (result.failed.length > 0) return this.partial(withWarnings, `${result.failed.length} deletes failed`);
        return withWarnings;
      }
      if (dryRun) {
        this.log(`(dryrun) delete: ${store.url}${target.path}`);
        return { dryRun: true, key: target.path };
      }
      const result = await store.delete(target.path, { signal: this.signal });
      this.log(`delete: ${store.url}${target.path}${result.referenceDeleted ? " (and its reference.bin)" : ""}`);
      return { ...result, warnings: [...store.warnings] };
    } finally {
      // Once, also when the delete failed: e.g. conditional writes checked with a HEAD first (issue 17).
      for (const warning of store.warnings) this.note(`warning: ${warning}`);
      await store.close();
    }
  }
}
