// The one set of flags of every directory sync command (photo-sync, photo-sync restore, object sync-up/down,
// delta sync): the same names, meanings and limits, because they all run on the same engine with the same
// delete rails (`@toolkit/shared`'s sync engine). Outside commands/, where oclif would take every module for a command.
import { Flags } from "@oclif/core";
import type { SyncPlan, SyncSummary } from "@toolkit/shared";

/** The shared sync flags. `what` names the destination's items in help, e.g. "objects under the prefix". */
export function syncFlags(help: { deletes: string }) {
  return {
    include: Flags.string({
      description: "Glob of relative paths to take part; every other file is left out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    exclude: Flags.string({
      description: "Glob of relative paths to leave out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    delete: Flags.boolean({ description: help.deletes }),
    mirror: Flags.boolean({ description: "Alias of --delete", hidden: true }),
    "dry-run": Flags.boolean({
      description: "Show what would be done; change nothing (--json prints the plan)",
      aliases: ["dryrun"],
    }),
    "max-delete": Flags.integer({
      description:
        "Stop before any change when more items than this would be deleted (given alone, it replaces the 50 % limit)",
      min: 0,
      helpValue: "<n>",
    }),
    "max-delete-percent": Flags.integer({
      description: "Stop before any change when more than this share of the destination would be deleted [default: 50]",
      min: 0,
      max: 100,
      helpValue: "<percent>",
    }),
    "allow-empty-source": Flags.boolean({
      description: "Let an empty source delete everything at the destination (refused by default)",
    }),
  };
}

/** The sync flags as parsed. */
export interface SyncFlagValues {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  delete?: boolean | undefined;
  mirror?: boolean | undefined;
  "dry-run"?: boolean | undefined;
  "max-delete"?: number | undefined;
  "max-delete-percent"?: number | undefined;
  "allow-empty-source"?: boolean | undefined;
}

/**
 * The engine options of the sync flags. `--mirror` means `--delete` and prints a one-line notice through `note`.
 */
export function syncOptionsOf(
  flags: SyncFlagValues,
  note: (line: string) => void,
): {
  include: string[];
  exclude: string[];
  delete: boolean;
  dryRun: boolean;
  allowEmptySource: boolean;
  maxDelete?: number;
  maxDeletePercent?: number;
} {
  if (flags.mirror) note("note: --mirror is an alias of --delete; use --delete");
  return {
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    delete: Boolean(flags.delete || flags.mirror),
    dryRun: Boolean(flags["dry-run"]),
    allowEmptySource: Boolean(flags["allow-empty-source"]),
    ...(flags["max-delete"] !== undefined ? { maxDelete: flags["max-delete"] } : {}),
    ...(flags["max-delete-percent"] !== undefined ? { maxDeletePercent: flags["max-delete-percent"] } : {}),
  };
}

/**
 * A run whose source had nothing in it (a mistyped prefix, an empty folder, filters that leave nothing) succeeds
 * with nothing done: add a warning saying so to the result (and to the plan on a dry run, which is what --json
 * prints then), so exit 0 is not read as "all copied". Returns the warning, if any.
 */
export function warnIfEmptySource(result: SyncSummary & { plan?: SyncPlan | undefined }): string | undefined {
  const files = result.plan ? result.plan.totals.sourceFiles : result.scanned;
  if (files > 0 || result.failed > 0 || result.aborted) return undefined;
  const warning =
    result.direction === "download"
      ? `nothing is stored under ${result.source} (after filters), so there is nothing to download; check the source with \`s3kit ls ${result.source}\``
      : `${result.source} has no files (after filters), so there is nothing to upload; check the folder and the --include/--exclude patterns`;
  result.warnings.push(warning);
  if (result.plan && result.plan.warnings !== result.warnings) result.plan.warnings.push(warning);
  return warning;
}
