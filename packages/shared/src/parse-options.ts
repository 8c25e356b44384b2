import type { z } from "zod";

/** Options of {@link parseOptions}. */
export interface ParseOptionsOptions {
  /** The function whose options these are, first in the message: `planSync: invalid \`x\` …`. */
  where: string;
  /** The error to throw, from the one-line message (each package passes its own error class). */
  error: (message: string) => Error;
  /** Options whose value must never be shown (secrets, objects): shown as `<hidden>`. @default credentials, store, logger */
  hidden?: readonly string[];
}

const HIDDEN = ["credentials", "store", "logger"];

/**
 * Parse an options object at a public boundary with a zod schema. On failure, throw one line naming the
 * first bad option, its value (never a secret's) and what is expected: `where: invalid \`maxDelete\` (-1): …`.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: ParseOptionsOptions,
): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = issue.path.map(String).join(".") || "options";
  const top = issue.path[0];
  const raw = top === undefined ? input : (input as Record<string, unknown>)[String(top)];
  const hidden = options.hidden ?? HIDDEN;
  const shown = hidden.includes(String(top))
    ? "<hidden>"
    : typeof raw === "function"
      ? "a function"
      : JSON.stringify(raw);
  const unknownKeys = issue.code === "unrecognized_keys";
  const message = unknownKeys ? `unknown option(s) ${issue.keys.map((k) => `\`${k}\``).join(", ")}` : issue.message;
  throw options.error(`${options.where}: invalid \`${name}\`${unknownKeys ? "" : ` (${shown})`}: ${message}.`);
}
