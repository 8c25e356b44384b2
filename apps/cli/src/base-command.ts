/**
 * The base of every s3kit command. Usage:
 *
 * ```ts
 * import { Args, Flags } from "@oclif/core";
 * import { openKv } from "@toolkit/kv-store";
 * import { BaseCommand } from "../../base-command.ts";
 *
 * export default class KvPush extends BaseCommand<typeof KvPush> {
 *   static override summary = "Push local changes to the remote";
 *   static override examples = ["<%= config.bin %> kv push ./app.db"];
 *   static override args = { path: Args.string({ required: true, description: "Local database file" }) };
 *   static override flags = { force: Flags.boolean({ description: "…" }) };
 *   // Optional: exact error codes whose exit code the suffix rules get wrong.
 *   static override errorExitCodes = { "kv.readOnly": ExitCode.usage };
 *
 *   async run() {
 *     const kv = await openKv({ path: this.args.path, ...this.clientOptions(), signal: this.signal });
 *     const result = await kv.push({ signal: this.signal, onProgress: this.progress });
 *     this.log(`pushed ${result.keys} keys`);  // human output: printed only without --json
 *     return result;                           // --json output: printed as JSON on stdout
 *   }
 * }
 * ```
 *
 * What the base gives a command:
 * - global flags `--endpoint-url`, `--region`, `--profile`, `--json`, `--quiet`, `--debug` (in `this.flags`);
 * - `this.signal`: aborted on SIGINT/SIGTERM (a second Ctrl-C exits at once with 130). Pass it to every call;
 * - `this.progress`: a `ProgressCallback`, a bar on stderr on a TTY, silent on a pipe or with --json/--quiet;
 * - `this.clientOptions()`: `{ endpoint, region, profile }` for `openObjectStore` / `createS3Client` / …;
 * - `this.logger`: a `Logger` writing to stderr with `--debug`, silent otherwise;
 * - errors: just throw. `catch` prints ONE line `error: <message>` on stderr (stack only with --debug), or
 *   `{"error":{"code","message"}}` on stdout with --json, and sets the exit code from the error's `code`
 *   (see exit-codes.ts: 1 failure, 2 usage, 3 partial, 130 interrupted);
 * - partial failure: `return this.partial(result, "3 of 120 files failed")` (prints the result, exits 3), or
 *   throw `new PartialFailureError(message, { result })`, or throw an error whose code ends in `.partial`.
 */
import { Command, Flags, type Interfaces } from "@oclif/core";
import { type Logger, type ProgressCallback, redactUrlUserInfo } from "@toolkit/shared";
import {
  ExitCode,
  type ExitCodeMap,
  errorCodeFor,
  exitCodeFor,
  InterruptedError,
  oneLineMessage,
  PartialFailureError,
} from "./exit-codes.ts";
import { cliError, fixPlurals } from "./messages.ts";
import { ProgressBar } from "./progress-bar.ts";

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)["baseFlags"] & T["flags"]
>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T["args"]>;

/** What `clientOptions()` returns: pass it to `openObjectStore`, `createS3Client`, `createDynamoDbClient`. */
export interface CliClientOptions {
  endpoint?: string;
  region?: string;
  profile?: string;
}

const GLOBAL = "GLOBAL";

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    "endpoint-url": Flags.string({
      description:
        "Endpoint URL for S3 and DynamoDB (MinIO, LocalStack, …). Default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL.",
      helpGroup: GLOBAL,
      helpValue: "<url>",
    }),
    region: Flags.string({
      description: "AWS region. Default: AWS_REGION, the profile's region.",
      helpGroup: GLOBAL,
      helpValue: "<region>",
    }),
    profile: Flags.string({
      description: "Named profile from ~/.aws/config. Default: AWS_PROFILE.",
      helpGroup: GLOBAL,
      helpValue: "<name>",
    }),
    quiet: Flags.boolean({
      char: "q",
      description: "No progress bar and no status lines on stderr (results and errors are still printed).",
      helpGroup: GLOBAL,
    }),
    debug: Flags.boolean({
      description: "Print stack traces and library debug logs on stderr.",
      helpGroup: GLOBAL,
    }),
  };

  /** Exact error code → exit code overrides for this command (merged over the global registry). */
  static errorExitCodes: ExitCodeMap = {};

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;

  readonly #abort = new AbortController();
  #interrupts = 0;
  #exitCode: number = ExitCode.ok;
  #progressBar: ProgressBar | undefined;
  #removeSignalHandlers: (() => void) | undefined;

  /** Aborted on SIGINT/SIGTERM with an `InterruptedError` (name `AbortError`, code `interrupted`). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** A progress callback for libraries: a bar on stderr on a TTY, nothing on a pipe or with --json/--quiet. */
  get progress(): ProgressCallback {
    this.#progressBar ??= new ProgressBar({
      enabled: Boolean(process.stderr.isTTY) && !this.jsonEnabled() && !this.flags?.quiet,
    });
    return this.#progressBar.callback;
  }

  /** Remove the progress bar from the terminal, e.g. before printing a table. Called on exit anyway. */
  protected stopProgress(): void {
    this.#progressBar?.stop();
  }

  /** The exit code the command will end with when it returns normally (set it for a custom outcome). */
  get exitCode(): number {
    return this.#exitCode;
  }
  set exitCode(code: number) {
    this.#exitCode = code;
  }

  /**
   * A logger for libraries: debug lines on stderr with `--debug`, silent otherwise. Never logs to stdout. Fields
   * are metadata only: bytes and streams show as their size, long strings are cut, URL user info is redacted.
   */
  get logger(): Logger {
    const enabled = Boolean(this.flags?.debug);
    const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
      if (!enabled) return;
      const extra = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : "";
      // Redact before cutting: a URL cut before its `@` would no longer look like user info.
      process.stderr.write(`${printable(redactUrlUserInfo(`${level}: ${message}${extra}`)).slice(0, MAX_LOG_LINE)}\n`);
    };
    return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
  }

  /**
   * Iterate `source` but stop at once when `this.signal` aborts (rejecting with its reason), even while a
   * page request is still in flight. Use it for read-only listings; close the store/client afterwards so an
   * abandoned request does not keep the process alive.
   */
  protected async *abortable<E>(source: AsyncIterable<E>): AsyncGenerator<E> {
    const signal = this.signal;
    const iterator = source[Symbol.asyncIterator]();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {}); // handled by the race below; never an unhandled rejection
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        if (next.done) return;
        yield next.value;
      }
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      if (!signal.aborted) await iterator.return?.();
      else void Promise.resolve(iterator.return?.()).catch(() => {});
    }
  }

  /** `{ endpoint, region, profile }` from the global flags (keys without a value left out). */
  clientOptions(): CliClientOptions {
    const { "endpoint-url": endpoint, region, profile } = this.flags;
    return {
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(profile !== undefined ? { profile } : {}),
    };
  }

  /**
   * Finish with a partial failure: the result is printed as usual (JSON with --json), `summary` as one
   * `error:` line on stderr (not with --json), and the exit code is 3.
   */
  protected partial<R>(result: R, summary: string): R {
    this.#exitCode = ExitCode.partial;
    this.stopProgress();
    if (!this.jsonEnabled()) {
      process.stderr.write(
        `error: ${printable(redactUrlUserInfo(cliError(summary, oneLineMessage(summary), "partial").message))}\n`,
      );
    }
    return result;
  }

  /** The command's human output (stdout); suppressed by --json (return the result instead). */
  override log(message = "", ...args: unknown[]): void {
    this.stopProgress();
    super.log(printable(redactUrlUserInfo(fixPlurals(message)), { keepLineBreaks: true }), ...args);
  }

  /** A status line on stderr ("created bucket …"); suppressed by --json and --quiet. */
  protected note(message: string): void {
    if (this.jsonEnabled() || this.flags?.quiet) return;
    this.stopProgress();
    process.stderr.write(`${printable(redactUrlUserInfo(fixPlurals(message)), { keepLineBreaks: true })}\n`);
  }

  /** Plain, uncoloured JSON: a pipe gets exactly `JSON.parse`-able text. */
  protected override logJson(json: unknown): void {
    process.stdout.write(`${redactUrlUserInfo(JSON.stringify(json, null, 2))}\n`);
  }

  protected override async init(): Promise<void> {
    await super.init();
    this.#installSignalHandlers();
    const ctor = this.ctor as typeof BaseCommand;
    // oclif warns "did not parse its arguments" when parse throws (NODE_ENV=development/test): it did try.
    this.parsed = true;
    const { args, flags } = await this.parse({
      args: ctor.args,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      flags: ctor.flags,
      strict: ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    this.stopProgress();
    const ctor = this.ctor as typeof BaseCommand;
    let exitCode = exitCodeFor(err, { aborted: this.signal.aborted, overrides: ctor.errorExitCodes });
    if (err && typeof err === "object" && (err as { code?: unknown }).code === "EEXIT") {
      this.#exitCode = exitCode;
      process.exitCode = exitCode;
      return;
    }
    // With --debug, or if the command's own parse never ran (a parse error), look at argv.
    const debug = this.flags?.debug ?? this.argv.includes("--debug");
    const interrupted = this.signal.aborted && exitCode === ExitCode.interrupted;
    const ownCode = (err as { code?: unknown } | undefined)?.code;
    // The one error-to-message layer (messages.ts): CLI words for the library's, one category per cause.
    const text = interrupted
      ? { message: oneLineMessage(this.signal.reason) }
      : cliError(err, oneLineMessage(err), typeof ownCode === "string" ? ownCode : undefined, {
          profile: this.flags?.profile ?? process.env.AWS_PROFILE,
          db: (this.flags as { db?: string } | undefined)?.db, // kv commands: the fix names the file
        });
    if (text.exitCode !== undefined) exitCode = text.exitCode;
    this.#exitCode = exitCode;
    process.exitCode = exitCode;
    const message = redactUrlUserInfo(text.message);
    if (this.jsonEnabled()) {
      const error: Record<string, unknown> = { code: text.code ?? errorCodeFor(err, exitCode), message };
      const body: Record<string, unknown> = { error };
      if (err instanceof PartialFailureError && err.result !== undefined) body.result = err.result;
      // An interrupted sync carries the summary so far (`summary`): --json shows it as the human output does.
      else if (err && typeof err === "object" && "summary" in err && err.summary !== undefined)
        body.result = err.summary;
      this.logJson(body);
    } else {
      process.stderr.write(`error: ${printable(message)}\n`);
    }
    if (debug && err instanceof Error && err.stack) {
      process.stderr.write(redactUrlUserInfo(`${err.stack}\n${causeChain(err)}`));
    }
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    this.stopProgress();
    this.#removeSignalHandlers?.();
    if (!err) {
      if (this.signal.aborted && this.#exitCode === ExitCode.ok) this.#exitCode = ExitCode.interrupted;
      if (this.#exitCode !== ExitCode.ok) process.exitCode = this.#exitCode;
    }
    await super.finally(err);
  }

  #installSignalHandlers(): void {
    const onSignal = (signalName: NodeJS.Signals) => {
      this.#interrupts++;
      if (this.#interrupts > 1) {
        this.stopProgress();
        process.stderr.write("\nerror: interrupted again, exiting now\n");
        process.exit(ExitCode.interrupted);
      }
      this.stopProgress();
      if (!this.jsonEnabled() && !this.flags?.quiet) {
        process.stderr.write(`\nstopping (${signalName}): cleaning up, press Ctrl-C again to exit now\n`);
      }
      this.#abort.abort(new InterruptedError(signalName));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    this.#removeSignalHandlers = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  }
}

/**
 * Text made safe for a terminal: control characters (C0, DEL, C1) escaped as `\n`, `\t`, `\r`, `\xNN`, so a
 * key from a bucket can neither recolour the terminal (ANSI escapes) nor forge an extra line. With
 * `keepLineBreaks`, `\n` and `\t` stay as they are (for multi-line output the command itself composed).
 */
export function printable(text: string, options: { keepLineBreaks?: boolean } = {}): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (options.keepLineBreaks && (c === "\n" || c === "\t")) return c;
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** A debug line is one line of metadata: anything longer is cut here. */
const MAX_LOG_LINE = 4096;
const MAX_LOG_STRING = 512;

/** JSON of log fields without payloads: bytes and streams become their size, long strings are cut. */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === "string")
        return v.length > MAX_LOG_STRING ? `${v.slice(0, MAX_LOG_STRING)}…(${v.length} chars)` : v;
      if (v instanceof Uint8Array || v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
      if (isBufferJson(v)) return `[${v.data.length} bytes]`;
      if (v !== null && typeof v === "object" && typeof (v as { pipe?: unknown }).pipe === "function")
        return "[stream]";
      return v;
    });
  } catch {
    return "[unserialisable]";
  }
}

/** A Buffer reaches a replacer already as `{ type: "Buffer", data: [...] }` (its toJSON runs first). */
function isBufferJson(v: unknown): v is { type: "Buffer"; data: unknown[] } {
  return (
    v !== null &&
    typeof v === "object" &&
    (v as { type?: unknown }).type === "Buffer" &&
    Array.isArray((v as { data?: unknown }).data)
  );
}

function causeChain(err: Error): string {
  let out = "";
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    out += `caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : safeJson(cause).slice(0, MAX_LOG_LINE)}\n`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

export type { ExitCodeMap, ExitCodeValue } from "./exit-codes.ts";
export { ExitCode, PartialFailureError, registerExitCodes } from "./exit-codes.ts";
