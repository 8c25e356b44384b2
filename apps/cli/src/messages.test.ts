import { describe, expect, it } from "vitest";
import { cliError, credentialsMessage, dedupeSegments, fixPlurals, flagOf } from "./messages.ts";

const coded = (code: string, message: string, cause?: unknown) =>
  Object.assign(new Error(message, cause ? { cause } : undefined), { code });

describe("cliError", () => {
  it.each([
    [
      "kv.notFound",
      'No database at ./a.db; open it with flag "c" to create it.',
      "No database at ./a.db; `s3kit kv set <key> <value> --db <path>` creates it, or give --remote of an existing database.",
    ],
    [
      "kv.conflict",
      '2 key(s) changed both locally and in s3://b/p/ since the last pull: "a", "b"; pull with onConflict "local", "remote" or "newest" to settle them.',
      '2 keys changed both locally and in s3://b/p/ since the last pull: "a", "b"; settle them with `s3kit kv pull --on-conflict local|remote|newest`.',
    ],
    [
      "kv.codecMismatch",
      'The local database ./a.db was written with codec `string`, not `json`; open it with codec: "string".',
      "The local database ./a.db was written with codec `string`, not `json`; use --codec string.",
    ],
    [
      "kv.remote",
      "Cannot pull at s3://b/p/: the remote cannot be reached; check the endpoint and the network, or open with offline: true",
      "Cannot pull at s3://b/p/: the remote cannot be reached; check --endpoint-url and the network; `s3kit kv set` and `kv status` work without it.",
    ],
    ["kv.invalidOptions", 'openKv: invalid `remote` ("x"): not a location.', 'invalid --remote ("x"): not a location.'],
    [
      "table.notFound",
      "list: table app does not exist; create it with ensureTable() (or `s3kit table init`)",
      "list: table app does not exist; create it with `s3kit table init`",
    ],
    [
      "object.localChanges",
      "Download of s3://b/k: the local copy /x/k has changes not uploaded; upload() them, or download({ force: true }) to discard them.",
      "Download of s3://b/k: the local copy /x/k has changes not uploaded; upload them with `s3kit object put`, or discard them with `s3kit object get --force`.",
    ],
    [
      "delta.storage",
      "Put s3://b/k failed: Put s3://b/k failed: network: socket hang up.",
      "Put s3://b/k failed: network: socket hang up.",
    ],
  ])("%s in CLI words", (code, library, cli) => {
    expect(cliError(coded(code, library), library, code)).toEqual({ message: cli });
  });

  it("a bad endpoint names --endpoint-url (exit 2)", () => {
    const line = 'createS3Client: invalid `endpoint` ("notaurl"): an endpoint is an http(s) URL.';
    expect(cliError(coded("invalidOptions", line), line, "invalidOptions")).toEqual({
      message:
        'invalid --endpoint-url "notaurl": give an http:// or https:// URL, e.g. --endpoint-url http://localhost:9000.',
      exitCode: 2,
    });
  });

  it("credentials anywhere in the cause chain are their own category (exit 1)", () => {
    const sdk = Object.assign(new Error("Could not load credentials from any providers"), {
      name: "CredentialsProviderError",
    });
    const wrapped = coded(
      "network",
      "List s3://b/ failed: network: Could not load credentials from any providers",
      sdk,
    );
    const text = cliError(wrapped, wrapped.message, "network");
    expect(text).toMatchObject({ code: "credentials", exitCode: 1 });
    expect(text.message).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile/);
    expect(credentialsMessage(wrapped, { profile: "backup" })).toMatch(
      /profile "backup".*aws configure --profile backup/,
    );
    expect(credentialsMessage(coded("network", "connect ECONNREFUSED"))).toBeUndefined();
  });
});

describe("fixPlurals", () => {
  it.each([
    ["1 object(s) failed", "1 object failed"],
    ["3 object(s) failed", "3 objects failed"],
    ["1 entry(s)", "1 entry"],
    ["2 entry(s)", "2 entries"],
    ["scanned   1 files  2 B", "scanned   1 file  2 B"],
    ["11 files", "11 files"],
    ["2.1 files", "2.1 files"],
  ])("%j → %j", (input, output) => expect(fixPlurals(input)).toBe(output));
});

describe("dedupeSegments", () => {
  it.each([
    ["Put s3://b/k failed: Put s3://b/k failed: why", "Put s3://b/k failed: why"],
    ["upload /x/a: ENOTDIR: upload of /x/a failed: ENOTDIR", "upload of /x/a failed: ENOTDIR"],
    ["Invalid location `s3:/x`: it is bad", "Invalid location `s3:/x`: it is bad"],
    ["a: b: c", "a: b: c"],
  ])("%j → %j", (input, output) => expect(dedupeSegments(input)).toBe(output));
});

it("flagOf turns an option into its flag", () => {
  expect(flagOf("maxDelete")).toBe("--max-delete");
  expect(flagOf("endpoint")).toBe("--endpoint-url");
});
