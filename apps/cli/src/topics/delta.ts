import { basename, dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Flags } from "@oclif/core";
import { createDeltaStore, type DeltaStore, type EngineChoice, type SyncFilter } from "@toolkit/delta-store";
import type { Logger } from "@toolkit/shared";
import type { CliClientOptions } from "../base-command.ts";
import { formatBytes } from "../progress-bar.ts";

// Helpers shared by the `s3kit delta …` commands. They live outside commands/, where oclif would take every
// module for a command.

/** A store URL split into the store's location and a key or prefix inside it. */
export interface DeltaTarget {
  location: string;
  /** Key (cp of one file) or prefix (ls, sync, rm -r) inside the location; may be "". */
  path: string;
}

export function isStoreUrl(value: string): boolean {
  return value.startsWith("s3://") || value.startsWith("file://");
}

/**
 * `s3://bucket/a/b.zip` → location `s3://bucket/` + path `a/b.zip` (the bucket root, so `dg-ref-key` is the
 * full key, as DeltaGlider writes it). `file:///srv/rel/a.zip` → location of the URL itself for a folder,
 * or of its parent for a file (`asFile`).
 */
export function parseTarget(url: string, asFile: boolean): DeltaTarget {
  if (url.startsWith("s3://")) {
    const rest = url.slice("s3://".length);
    const slash = rest.indexOf("/");
    return slash === -1
      ? { location: `s3://${rest}/`, path: "" }
      : { location: `s3://${rest.slice(0, slash)}/`, path: rest.slice(slash + 1) };
  }
  const trimmed = url.replace(/\/+$/, "");
  if (asFile && !url.endsWith("/")) {
    return {
      location: trimmed.slice(0, trimmed.lastIndexOf("/")) || "file:///",
      path: trimmed.slice(trimmed.lastIndexOf("/") + 1),
    };
  }
  return { location: trimmed, path: "" };
}

export function openDeltaStore(
  location: string,
  client: CliClientOptions,
  logger: Logger,
  flags: { "max-ratio"?: number | undefined; engine?: string | undefined; "no-delta"?: boolean | undefined } = {},
): DeltaStore {
  return createDeltaStore({
    location,
    ...(client.endpoint ? { endpoint: client.endpoint } : {}),
    ...(client.region ? { region: client.region } : {}),
    ...(client.profile ? { profile: client.profile } : {}),
    ...(flags["max-ratio"] !== undefined ? { maxRatio: flags["max-ratio"] } : {}),
    ...(flags.engine ? { engine: flags.engine as EngineChoice } : {}),
    ...(flags["no-delta"] ? { noDelta: true } : {}),
    logger,
  });
}

/** `--exclude` / `--include` in the order given on the command line (later rules win, as in `aws s3`). */
export function orderedFilters(argv: readonly string[]): SyncFilter[] {
  const filters: SyncFilter[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    for (const type of ["exclude", "include"] as const) {
      if (arg === `--${type}` && argv[i + 1] !== undefined) filters.push({ type, pattern: argv[++i]! });
      else if (arg.startsWith(`--${type}=`)) filters.push({ type, pattern: arg.slice(type.length + 3) });
    }
  }
  return filters;
}

/**
 * A key (or message) as one printable line: control characters (ANSI escapes, newlines, NUL) from a remote
 * key are shown as `\xHH`, so a hostile key can neither recolour the terminal nor forge a second line.
 */
export function printableKey(key: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped.
  return key.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function localUrl(path: string): string {
  return pathToFileURL(resolve(path)).href;
}

export { basename, dirname, formatBytes };

export const transferFlags = {
  exclude: Flags.string({
    description: "Leave out paths matching this glob (repeatable; relative to the folder)",
    multiple: true,
    multipleNonGreedy: true,
    helpValue: "<glob>",
  }),
  include: Flags.string({
    description: "Put back paths an --exclude left out (repeatable; later rules win)",
    multiple: true,
    multipleNonGreedy: true,
    helpValue: "<glob>",
  }),
  dryrun: Flags.boolean({ description: "Show what would be done; change nothing (same as --dry-run)" }),
  "dry-run": Flags.boolean({ description: "Show what would be done; change nothing", hidden: true }),
  "no-delta": Flags.boolean({ description: "Store files directly (no reference, no delta)" }),
  "max-ratio": Flags.string({
    description: "Keep a delta only if it is at most this fraction of the file (0 < r <= 1; default 0.5)",
    helpValue: "<ratio>",
  }),
  engine: Flags.option({
    options: ["auto", "xdelta3", "xdelta3-wasm", "zstd"] as const,
    description: "Delta engine for new deltas",
    default: "auto" as const,
  })(),
};

export function ratioFlag(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

export interface LsRow {
  key: string;
  kind: string;
  size?: number;
  storedSize?: number;
  lastModified?: string;
}
