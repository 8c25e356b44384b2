/**
 * The one place that turns an error into an exit code and a one-line message.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage error, 3 partial failure (some items failed), 130 interrupted.
 * Library errors are matched by their string `code` (never by message):
 * - an exact entry registered with {@link registerExitCodes} (or a command's `static errorExitCodes`) wins;
 * - otherwise by the last segment of the code (`kv.invalidKey` → `invalidKey`):
 *   `invalid*`, `usage`, `validation` → 2; `partial`, `partialFailure` → 3; `aborted`, `interrupted` → 130;
 * - everything else → 1.
 */

export const ExitCode = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  partial: 3,
  interrupted: 130,
});

/** One of the exit codes s3kit uses. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Error code → exit code, for codes the suffix rules get wrong. */
export type ExitCodeMap = Readonly<Record<string, ExitCodeValue>>;

const registry = new Map<string, ExitCodeValue>();

/** Register exact error codes, e.g. `registerExitCodes({ "kv.readOnly": ExitCode.usage })`. Later calls win. */
export function registerExitCodes(map: ExitCodeMap): void {
  for (const [code, exit] of Object.entries(map)) registry.set(code, exit);
}

/**
 * Thrown (or passed to `BaseCommand.partial()`) when some items of a batch failed and the others succeeded:
 * exit code 3. `result` is what the command would have printed (it is printed with `--json`).
 */
export class PartialFailureError extends Error {
  override name = "PartialFailureError";
  readonly code = "partial";
  readonly result: unknown;
  constructor(message: string, options?: ErrorOptions & { result?: unknown }) {
    super(message, options);
    this.result = options?.result;
  }
}

/** The reason `BaseCommand.signal` aborts with on SIGINT/SIGTERM (named `AbortError`, as `isAbortError` expects). */
export class InterruptedError extends Error {
  override name = "AbortError";
  readonly code = "interrupted";
  constructor(readonly signalName: string) {
    super(`interrupted (${signalName})`);
  }
}

/** Exit code of an error `code` string by the registry and the suffix rules; `undefined` when none applies. */
export function exitCodeForCode(code: string, overrides?: ExitCodeMap): ExitCodeValue | undefined {
  const exact = overrides?.[code] ?? registry.get(code);
  if (exact !== undefined) return exact;
  const last = code.slice(code.lastIndexOf(".") + 1);
  if (last === "aborted" || last === "interrupted") return ExitCode.interrupted;
  if (last === "partial" || last === "partialFailure") return ExitCode.partial;
  if (/^invalid(?:[A-Z]|$)/.test(last) || last === "usage" || last === "validation") return ExitCode.usage;
  return undefined;
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  parse?: unknown;
  oclif?: { exit?: unknown };
}

function asErrorLike(error: unknown): ErrorLike {
  return typeof error === "object" && error !== null ? (error as ErrorLike) : {};
}

/** True for oclif's argument/flag parse errors (CLIParseError and the errors of a flag's `parse`). */
export function isUsageError(error: unknown): boolean {
  const e = asErrorLike(error);
  if (e.parse !== undefined) return true; // CLIParseError and its subclasses carry the parser input
  const message = typeof e.message === "string" ? e.message : "";
  if (message.startsWith("Parsing --")) return true;
  // STYLE.md's option errors: TypeError("Expected `partSizeBytes` to be an integer >= …, got `3`").
  return (e.name === "TypeError" || e.name === "RangeError") && message.startsWith("Expected `");
}

/** True for oclif's `this.exit(n)` (an ExitError, code `EEXIT`): leave quietly with its code. */
export function isExitError(error: unknown): error is Error & { oclif: { exit: number } } {
  const e = asErrorLike(error);
  return e.code === "EEXIT" && typeof e.oclif?.exit === "number";
}

/**
 * The exit code for an error. `aborted`: the command's signal fired (Ctrl-C), which makes any error 130.
 */
export function exitCodeFor(error: unknown, options: { aborted?: boolean; overrides?: ExitCodeMap } = {}): number {
  if (isExitError(error)) return error.oclif.exit;
  if (options.aborted) return ExitCode.interrupted;
  const e = asErrorLike(error);
  if (e.name === "AbortError") return ExitCode.interrupted;
  if (typeof e.code === "string") {
    const mapped = exitCodeForCode(e.code, options.overrides);
    if (mapped !== undefined) return mapped;
  }
  if (isUsageError(error)) return ExitCode.usage;
  if (typeof e.oclif?.exit === "number" && e.oclif.exit !== 0) return e.oclif.exit;
  return ExitCode.failure;
}

/** The `code` printed in `--json` errors: the error's own code, else `usage`, `interrupted` or `error`. */
export function errorCodeFor(error: unknown, exitCode: number): string {
  const code = asErrorLike(error).code;
  if (typeof code === "string" && code !== "") return code;
  if (exitCode === ExitCode.usage) return "usage";
  if (exitCode === ExitCode.interrupted) return "interrupted";
  return "error";
}

/**
 * The error as one line: lines joined (`label:` + next line with a space, others with `; `), whitespace
 * collapsed. oclif's parse errors are multi-line lists; library messages are already one line.
 */
export function oneLineMessage(error: unknown): string {
  const raw =
    error instanceof Error ? error.message : typeof error === "string" ? error : (JSON.stringify(error) ?? "");
  const lines = raw
    .split(/\r?\n/)
    .map((line) => line.replace(/\s+/g, " ").trim())
    .filter((line) => line !== "");
  let out = "";
  for (const line of lines) {
    if (out === "") out = line;
    else out += /[:;,]$/.test(out) ? ` ${line}` : `; ${line}`;
  }
  return out === "" ? (error instanceof Error ? error.name : "unknown error") : out;
}
