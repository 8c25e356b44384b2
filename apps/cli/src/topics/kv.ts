import { Flags } from "@oclif/core";
import { isKvError, type Kv, type OpenKvOptions, openKv, remoteOfLocalFile } from "@toolkit/kv-store";
import type { Logger } from "@toolkit/shared";
import type { CliClientOptions } from "../base-command.ts";

/** The flags every `s3kit kv` command takes: which local file, which remote, which codec. */
export const dbFlags = {
  db: Flags.string({ description: "Local database file (SQLite)", required: true, helpValue: "<path>" }),
  remote: Flags.string({
    description: "Remote location: s3://bucket/prefix or file:///abs/dir (remembered in the local file)",
    helpValue: "<location>",
  }),
  codec: Flags.string({ description: "Value codec", options: ["json", "string"], default: "json" }),
};

/** `--on-conflict` of `kv pull` and `kv push`: how a key changed both here and in the remote is settled. */
export const onConflictFlag = {
  "on-conflict": Flags.string({
    description: "How a key changed on both sides is settled",
    options: ["newest", "local", "remote", "error"],
    default: "newest",
  }),
};

/** For the commands that write the remote's manifest (push, compact): the way past `kv.unsafeStore`. */
export const singleWriterFlag = {
  "single-writer": Flags.boolean({
    description:
      "Only this replica ever writes to the remote: go ahead even if the endpoint ignores conditional writes",
  }),
};

/**
 * What every kv command opens its database with: the file, its remote (the flag, else the one remembered in
 * the file), the codec, and the command's client options, logger and signal.
 */
export function dbOptions(
  flags: { db: string; remote?: string | undefined; codec: string },
  command: { clientOptions(): CliClientOptions; logger: Logger; signal: AbortSignal },
): OpenKvOptions<"json"> {
  const remote = flags.remote ?? remoteOfLocalFile(flags.db);
  return {
    path: flags.db,
    codec: flags.codec as "json",
    ...(remote ? { remote } : {}),
    remoteOptions: command.clientOptions(),
    logger: command.logger,
    signal: command.signal,
  };
}

/**
 * Open a database for a read command (get, list). Its pull on open settles nothing: when a key was changed
 * both here (not pushed yet) and remotely, the pull applies nothing and the command reads the local file as
 * it is, saying so. A read must never decide a conflict: with "newest" it could drop an unpushed local edit.
 */
export async function openForReading(options: OpenKvOptions<"json">, note: (message: string) => void): Promise<Kv> {
  try {
    return await openKv({ ...options, onConflict: "error" });
  } catch (error) {
    if (!isKvError(error, "kv.conflict")) throw error;
    note(
      `not pulling: ${error.keys?.length ?? 0} key(s) changed both here and in the remote; showing the local file (\`s3kit kv pull --db ${options.path} --on-conflict local\` keeps it, \`--on-conflict remote\` takes the remote's)`,
    );
    return openKv({ ...options, pullOnOpen: false });
  }
}
