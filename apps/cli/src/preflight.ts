/**
 * Up-front checks of local sources and destinations, run before the first transfer: a destination that is a
 * file (or sits below one) fails at once with one line, instead of one `ENOTDIR` per item after every
 * transfer was tried.
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Codes of {@link CliInputError}. */
export type CliInputErrorCode =
  /** A local source (file or folder) does not exist. Exit 1. */
  | "cli.sourceNotFound"
  /** A local destination folder is a file, or lies below a file. Exit 1. */
  | "cli.destinationNotFolder"
  /** `--state-file` names a folder (or lies below a file). Exit 2. */
  | "cli.invalidStateFile";

/** An error about a local path the user gave, found before anything was transferred. */
export class CliInputError extends Error {
  override name = "CliInputError";
  constructor(
    readonly code: CliInputErrorCode,
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

async function kindOf(path: string): Promise<"file" | "folder" | "missing" | "blocked"> {
  try {
    return (await stat(path)).isDirectory() ? "folder" : "file";
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === "ENOTDIR" ? "blocked" : "missing";
  }
}

/** The nearest existing ancestor of `path` that is a file, if any (what makes `path` unusable as a folder). */
async function fileAncestor(path: string): Promise<string | undefined> {
  let current = resolve(path);
  for (;;) {
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
    const kind = await kindOf(current);
    if (kind === "file") return current;
    if (kind === "folder") return undefined;
  }
}

/**
 * Check that `path` can be the destination folder of a download: a folder, or missing (it will be created)
 * with no file in the way. `usage` names the command for the hint, e.g. "object sync-down".
 */
export async function checkDestinationFolder(path: string, usage: string): Promise<void> {
  const kind = await kindOf(path);
  if (kind === "folder") return;
  if (kind === "file") {
    throw new CliInputError(
      "cli.destinationNotFolder",
      `the destination ${path} is a file, not a folder; give a folder to ${usage} into (nothing was transferred).`,
      path,
    );
  }
  const blocker = await fileAncestor(path);
  if (blocker !== undefined) {
    throw new CliInputError(
      "cli.destinationNotFolder",
      `the destination ${path} cannot be a folder: ${blocker} is a file; give another folder to ${usage} into (nothing was transferred).`,
      path,
    );
  }
}

/** Check that a local source exists; `kind` says what it must be. */
export async function checkSource(path: string, kind: "file" | "folder" | "any", hint = ""): Promise<void> {
  const found = await kindOf(path);
  if (found === "missing" || found === "blocked") {
    throw new CliInputError("cli.sourceNotFound", `${path} does not exist${hint ? `; ${hint}` : "."}`, path);
  }
  if (kind !== "any" && found !== kind) {
    throw new CliInputError(
      "cli.sourceNotFound",
      `${path} is a ${found}, not a ${kind}${hint ? `; ${hint}` : "."}`,
      path,
    );
  }
}

/** Check a `--state-file`: a file or missing (with no file in the way), never a folder. */
export async function checkStateFile(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  const kind = await kindOf(path);
  if (kind === "folder") {
    throw new CliInputError(
      "cli.invalidStateFile",
      `--state-file ${path} is a folder; give a file path (e.g. ${resolve(path, "s3kit-state.json")}).`,
      path,
    );
  }
  if (kind === "file") return;
  const blocker = await fileAncestor(path);
  if (blocker !== undefined) {
    throw new CliInputError(
      "cli.invalidStateFile",
      `--state-file ${path} cannot be created: ${blocker} is a file.`,
      path,
    );
  }
}

/** The local path of a CLI location argument (`file:///x` or a plain path); `undefined` for `s3://` and the like. */
export function localPathOf(location: string): string | undefined {
  if (location.startsWith("file:///")) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined; // the library says what is wrong with it
    }
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(location) ? undefined : location;
}
