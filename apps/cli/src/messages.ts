/**
 * The CLI's error-to-message layer: library errors name options and functions (`flag "c"`, `offline: true`,
 * `download({ force: true })`, `openKv:`); a CLI user needs flags and commands (`--endpoint-url`,
 * `s3kit table init`). Every error a command throws passes through {@link cliError} once, in
 * `BaseCommand.catch`, which gives ONE line: the input concerned and what to do, in CLI terms.
 *
 * Rules, in order:
 * 1. Credentials errors (anywhere in the cause chain) are their own category: code `credentials`, exit 1, with
 *    the variables or profile to set.
 * 2. No region (the SDK's "Region is missing") is its own category too: code `region`, exit 1, with what to set.
 *    An invalid endpoint names `--endpoint-url` (exit 2).
 * 3. The code's own CLI wording ({@link WORDING}), keyed by the error's `code`: it replaces the library's hint
 *    (the part that names an option or a function) with the flag or command that does the same.
 * 4. Everywhere: a leading function name (`openKv: invalid …`) goes, `` `optionName` `` in "invalid `x`" becomes
 *    `--option-name`, text a lower layer already said is not repeated, and counts agree with their noun.
 */

/** What the CLI prints for an error: its one line, and a code/exit override when the category changed. */
export interface CliErrorText {
  message: string;
  /** Set when the layer re-categorised the error (e.g. `credentials`); else the error's own code is used. */
  code?: string;
  /** Set when the category has its own exit code. */
  exitCode?: number;
}

/** What the command knows that the error does not: the profile in use (`--profile`, else AWS_PROFILE). */
export interface MessageContext {
  profile?: string | undefined;
  /** The command's `--db` (kv commands): the fix names the file the user gave. */
  db?: string | undefined;
}

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

/** The error and its causes, outermost first (at most 8 deep). */
function chain(error: unknown): ErrorShape[] {
  const out: ErrorShape[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    out.push(current as ErrorShape);
    current = (current as ErrorShape).cause;
  }
  return out;
}

const text = (v: unknown): string => (typeof v === "string" ? v : "");

const NO_CREDENTIALS =
  /Could not load credentials from any providers|Unable to locate credentials|Could not resolve credentials|credentials? (?:are|is) missing|InvalidAccessKeyId|SignatureDoesNotMatch|The security token included in the request is invalid|UnrecognizedClientException/i;

/**
 * A credentials problem, found in the error or any of its causes: the SDK's `CredentialsProviderError`, or
 * a service's refusal of the key itself (unknown access key, wrong secret).
 */
export function credentialsMessage(error: unknown, context: MessageContext = {}): string | undefined {
  for (const e of chain(error)) {
    const message = text(e.message);
    const name = text(e.name);
    const profile =
      /using profile: \[([^\]]*)\]/.exec(message)?.[1] ??
      /profile (?:`|")?([\w.-]+)(?:`|")? (?:could not be found|not found)/i.exec(message)?.[1];
    if (profile !== undefined) {
      return `the profile "${profile}" is not in ~/.aws/config or ~/.aws/credentials (or has no credentials); check --profile / AWS_PROFILE, or run \`aws configure --profile ${profile}\`.`;
    }
    if (
      /InvalidAccessKeyId|UnrecognizedClientException|security token included in the request is invalid/.test(
        `${name} ${message} ${text(e.code)}`,
      )
    ) {
      return "the access key id is not known to this endpoint; check AWS_ACCESS_KEY_ID / --profile, and --endpoint-url.";
    }
    if (/SignatureDoesNotMatch/.test(`${name} ${message} ${text(e.code)}`)) {
      return "the secret access key does not match the access key id; check AWS_SECRET_ACCESS_KEY / --profile.";
    }
    if (name === "CredentialsProviderError" || NO_CREDENTIALS.test(message)) {
      if (context.profile) {
        return `no AWS credentials for the profile "${context.profile}" (--profile / AWS_PROFILE): add it to ~/.aws/credentials or ~/.aws/config (\`aws configure --profile ${context.profile}\`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY without a profile.`;
      }
      return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile <name> (or set AWS_PROFILE) for a profile in ~/.aws/config.";
    }
  }
  return undefined;
}

/**
 * No region, or one the SDK refuses (`AWS_REGION=` set empty gives `region=""`): what to set. The SDK's own
 * words ("Region is missing"; "Region not accepted") would otherwise end in the network hint.
 */
export function regionMessage(error: unknown, line = ""): string | undefined {
  const said = [line, ...chain(error).map((e) => text(e.message))].join("\n");
  const refused = /Region not accepted: region="([^"]*)"/.exec(said);
  if (/\bRegion is missing\b/.test(said) || refused?.[1] === "") {
    return "no AWS region set: pass --region <name>, set AWS_REGION, or set `region` for the profile in ~/.aws/config.";
  }
  if (refused) {
    return `the region "${refused[1]}" is not a region name: pass --region <name> (e.g. eu-west-1) or correct AWS_REGION / the profile's \`region\`.`;
  }
  return undefined;
}

/** An option name as the CLI flag that sets it (`maxDelete` → `--max-delete`). */
export function flagOf(option: string): string {
  const special: Record<string, string> = { endpoint: "--endpoint-url", tableName: "--table" };
  return special[option] ?? `--${option.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
}

type Rewrite = readonly [RegExp, string | ((...groups: string[]) => string)];

/** dynamo-table's "no such table" hint, in both codes that carry it: the command, with the table's name. */
const TABLE_MISSING = /table (\S+) does not exist; create it with ensureTable\(\) \(or `s3kit table init`\)/;
const TABLE_INIT = "table $1 does not exist; create it with `s3kit table init --table $1`";

/**
 * Per error code: the library's hint (an option or a function) → the CLI's (a flag or a command). Each pair
 * is a `String.replace` on the message; codes are exact, or `*` for every code.
 */
const WORDING: Readonly<Record<string, readonly Rewrite[]>> = {
  "kv.notFound": [
    [
      /; open it with flag "c" to create it\.?$/,
      "; `s3kit kv set <key> <value> --db <path>` creates it, or give --remote of an existing database.",
    ],
  ],
  "kv.readOnly": [[/ \(flag "r"\); open it with flag "w" or "c" to write\.?$/, "; it cannot be written here."]],
  "kv.remote": [
    [/, or open with offline: true\.?$/, "; `s3kit kv set` and `kv status` work without it."],
    [/check the endpoint and the network/, "check --endpoint-url and the network"],
    [/check the credentials, profile and bucket policy/, "check AWS_ACCESS_KEY_ID / --profile and the bucket policy"],
  ],
  "kv.offline": [[/offline: true/g, "no remote"]],
  "kv.conflict": [
    [/ changed both locally and in /, " changed both in {db} and in "],
    [
      /; pull with onConflict "local", "remote" or "newest" to settle them\.?$/,
      "; keep this file's values with `s3kit kv pull --db {db} --on-conflict local` (or `remote` for the remote's, `newest` for the later write of each), then `s3kit kv push --db {db}`.",
    ],
  ],
  "kv.codecMismatch": [[/; open it with codec: "([\w-]+)"\.?$/, (_m, codec) => `; use --codec ${codec}.`]],
  "kv.invalidOptions": [[/; use another local path for this remote\.?$/, "; use another --db for this remote."]],
  "kv.unsafeStore": [
    [/: singleWriter: true \(CLI: --single-writer\)/, " with --single-writer"],
    [/\bsingleWriter(?:: true)?/g, "--single-writer"],
  ],
  "delta.notFound": [
    [
      /^No file (\S+) in (\S+?): check the key with `list`\.?$/,
      (_m, key, root) => {
        const dir = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
        const folder = `${root}${root.endsWith("/") ? "" : "/"}${dir}`;
        return `No file ${key} in ${root}: \`s3kit delta ls ${folder}\` lists what is there.`;
      },
    ],
  ],
  "table.corruptItem": [
    [/\(list with `skipInvalid` to read the others\)/, "(`s3kit table list --skip-invalid` reads the others)"],
  ],
  "table.notFound": [[TABLE_MISSING, TABLE_INIT]],
  "table.request": [
    [TABLE_MISSING, TABLE_INIT],
    [/ensureTable\(\)/g, "`s3kit table init`"],
  ],
  "object.localChanges": [
    [
      /; upload\(\) them, or download\(\{ force: true \}\) to discard them\.?$/,
      "; upload them with `s3kit object put`, or discard them with `s3kit object get --force`.",
    ],
  ],
  "object.conflict": [
    [/\(or pass force\)/g, "(or pass --force)"],
    [/, or pass `?force`?/g, ", or pass --force"],
  ],
  "object.notFound": [
    [/; download\(\) or write it first\.?$/, "; get it with `s3kit object get` or write it first."],
    [/; upload a folder with uploadPrefix\(\)\.?$/, "; upload a folder with `s3kit object sync-up`."],
  ],
  "*": [
    // `Download of URL: Get URL failed: …` → `Download of URL failed: …` (the store's operation said again).
    [/^(\w+) of (\S+): (?:Get|Head|Put|List|Copy|Delete) \2 failed: /, "$1 of $2 failed: "],
    // The store's codes for a missing object or bucket, in words, with the command that helps.
    [
      /(?<=^|\s)((?:s3|file):\/\/\S+) failed: notFound(?:: The specified key does not exist)?\.*$/,
      (_m, url) => `${url} failed: it does not exist; \`s3kit ls ${parentOf(url)}\` lists what is there.`,
    ],
    [
      /(?<=^|\s)(s3:\/\/([^/\s]+)\S*) failed: noSuchBucket: .*$/,
      (_m, url, bucket) =>
        `${url} failed: the bucket ${bucket} does not exist; make it with \`s3kit mb s3://${bucket}\`, or check the name and --endpoint-url.`,
    ],
    [
      /(s3:\/\/([^/\s]+)\S*): the bucket does not exist; create it or check the name and endpoint\.?$/,
      (_m, url, bucket) =>
        `${url}: the bucket ${bucket} does not exist; make it with \`s3kit mb s3://${bucket}\`, or check the name and --endpoint-url.`,
    ],
    [/([^.])\.\.$/, "$1."],
    // `fn: invalid …` / `fn(): invalid …`: the function is the library's, not the user's.
    [/^(?:[A-Za-z][\w.]*(?:\(\))?): (?=invalid )/, ""],
    [/\binvalid `(\w+)`/g, (_m, option) => `invalid ${flagOf(option)}`],
  ],
};

/** The listing one level up: `s3://b/a/k.csv` → `s3://b/a/`, `s3://b/k` → `s3://b/`. */
function parentOf(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  const scheme = /^[a-z0-9]+:\/\/[^/]*\/?/.exec(trimmed)?.[0] ?? "";
  const cut = trimmed.lastIndexOf("/");
  return cut >= scheme.length ? trimmed.slice(0, cut + 1) : `${scheme.replace(/\/?$/, "/")}`;
}

/** `n word` with the noun agreeing: `count(1, "file")` → `1 file`, `count(2, "entry", "entries")` → `2 entries`. */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? singular : plural}`;
}

/** Counts agree with their noun: `1 object(s)` → `1 object`, `2 file(s)` → `2 files`, `1 files` → `1 file`. */
export function fixPlurals(line: string): string {
  return line
    .replace(/(?<![\w.,])(\d[\d,]*) (\w+?)\(s\)/g, (_m, n: string, word: string) =>
      n === "1"
        ? `1 ${word}`
        : `${n} ${word.endsWith("y") && !/[aeiou]y$/.test(word) ? `${word.slice(0, -1)}ie` : word}s`,
    )
    .replace(
      /(?<![\w.,])1 (file|object|item|key|delta|request|change|folder|upload|download|conflict|segment|version|failure|error|warning|link|bucket|value|deletion|path|part)s\b/g,
      "1 $1",
    )
    .replace(/(?<![\w.,])1 entries\b/g, "1 entry")
    .replace(/(?<![\w.,])1 prefixes\b/g, "1 prefix");
}

/**
 * Text a lower layer already said, said once: `Put X failed: Put X failed: why` → `Put X failed: why`;
 * `upload X: ENOTDIR: upload of X failed: ENOTDIR` → `upload of X failed: ENOTDIR` (an outer segment that a
 * later, more specific segment repeats is dropped).
 */
export function dedupeSegments(line: string): string {
  let out = line;
  // Exact repeats of a `…: ` prefix.
  for (let i = 0; i < 4; i++) {
    const next = out.replace(/(.{6,}?: )\1+/g, "$1");
    if (next === out) break;
    out = next;
  }
  const parts = out.split(": ");
  if (parts.length < 3) return out;
  const norm = (s: string) =>
    s
      .toLowerCase()
      .replace(/\b(of|failed|the|a)\b/g, "")
      .replace(/[^\p{L}\p{N}/:._-]+/gu, " ")
      .trim();
  const kept: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const here = norm(parts[i] ?? "");
    const laterSays = parts.slice(i + 1).some((p) => {
      const later = norm(p);
      return here !== "" && (later === here || (here.length >= 6 && later.includes(here)));
    });
    if (!laterSays) kept.push(parts[i] ?? "");
  }
  return kept.join(": ");
}

/**
 * The CLI's one line for an error (already one line: see `oneLineMessage`). `code` is the error's code.
 */
export function cliError(
  error: unknown,
  line: string,
  code: string | undefined,
  context: MessageContext = {},
): CliErrorText {
  const credentials = credentialsMessage(error, context);
  if (credentials !== undefined) return { message: credentials, code: "credentials", exitCode: 1 };
  const region = regionMessage(error, line);
  if (region !== undefined) return { message: region, code: "region", exitCode: 1 };
  const endpoint = /invalid `?endpoint`?(?: \(("[^"]*"|[^)]*)\))?/i.exec(line);
  if (endpoint && /endpoint/.test(line) && (code === undefined || /invalid/i.test(code))) {
    const value = endpoint[1] ? ` ${endpoint[1]}` : "";
    return {
      message: `invalid --endpoint-url${value}: give an http:// or https:// URL, e.g. --endpoint-url http://localhost:9000.`,
      exitCode: 2,
    };
  }
  let message = line;
  for (const [pattern, replacement] of [...(code ? (WORDING[code] ?? []) : []), ...(WORDING["*"] ?? [])]) {
    message =
      typeof replacement === "string"
        ? replacement.includes("{db}")
          ? message.replace(pattern, () => replacement.replaceAll("{db}", context.db ?? "<path>"))
          : message.replace(pattern, replacement)
        : message.replace(pattern, (...m: unknown[]) =>
            replacement(...(m.filter((x) => typeof x === "string") as string[])),
          );
  }
  return { message: fixPlurals(dedupeSegments(message)) };
}
