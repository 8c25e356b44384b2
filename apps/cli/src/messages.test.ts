import { describe, expect, it } from "vitest";
import { cliError, credentialsMessage, dedupeSegments, fixPlurals, flagOf, regionMessage } from "./messages.ts";

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
      '2 keys changed both in <path> and in s3://b/p/ since the last pull: "a", "b"; keep this file\'s values with `s3kit kv pull --db <path> --on-conflict local` (or `remote` for the remote\'s, `newest` for the later write of each), then `s3kit kv push --db <path>`.',
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
      "list: table app does not exist; create it with `s3kit table init --table app`",
    ],
    [
      "table.request",
      "list Note: table nope does not exist; create it with ensureTable() (or `s3kit table init`)",
      "list Note: table nope does not exist; create it with `s3kit table init --table nope`",
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
    [
      "object.notFound",
      "Download of s3://b/reports/q3.csv: Get s3://b/reports/q3.csv failed: notFound: The specified key does not exist..",
      "Download of s3://b/reports/q3.csv failed: it does not exist; `s3kit ls s3://b/reports/` lists what is there.",
    ],
    [
      "object.notFound",
      "Download of file:///d/none.csv: Get file:///d/none.csv failed: notFound.",
      "Download of file:///d/none.csv failed: it does not exist; `s3kit ls file:///d/` lists what is there.",
    ],
    [
      "object.notFound",
      "Upload of s3://nob/x.csv: Put s3://nob/x.csv failed: noSuchBucket: The specified bucket does not exist; create the bucket or check the name and endpoint.",
      "Upload of s3://nob/x.csv failed: the bucket nob does not exist; make it with `s3kit mb s3://nob`, or check the name and --endpoint-url.",
    ],
    [
      "kv.remote",
      "Cannot read the manifest at s3://nob/x/: the bucket does not exist; create it or check the name and endpoint",
      "Cannot read the manifest at s3://nob/x/: the bucket nob does not exist; make it with `s3kit mb s3://nob`, or check the name and --endpoint-url.",
    ],
    [
      "delta.notFound",
      "No file releases/app/none.zip in s3://b/: check the key with `list`.",
      "No file releases/app/none.zip in s3://b/: `s3kit delta ls s3://b/releases/app/` lists what is there.",
    ],
    [
      "noSuchBucket",
      "List s3://nob/ failed: noSuchBucket: The specified bucket does not exist; create the bucket or check the name and endpoint.",
      "List s3://nob/ failed: the bucket nob does not exist; make it with `s3kit mb s3://nob`, or check the name and --endpoint-url.",
    ],
  ])("%s in CLI words", (code, library, cli) => {
    expect(cliError(coded(code, library), library, code)).toEqual({ message: cli });
  });

  it("kv.conflict names the --db the user gave", () => {
    const line =
      '1 key(s) changed both locally and in s3://b/p/ since the last pull: "k"; pull with onConflict "local", "remote" or "newest" to settle them.';
    expect(cliError(coded("kv.conflict", line), line, "kv.conflict", { db: "./$b.db" }).message).toBe(
      "1 key changed both in ./$b.db and in s3://b/p/ since the last pull: \"k\"; keep this file's values with `s3kit kv pull --db ./$b.db --on-conflict local` (or `remote` for the remote's, `newest` for the later write of each), then `s3kit kv push --db ./$b.db`.",
    );
  });

  it("no region is its own category (exit 1) naming --region and AWS_REGION", () => {
    const sdk = new Error("Region is missing");
    const wrapped = coded(
      "network",
      "List s3://b/ failed: Region is missing; check the endpoint and the network.",
      sdk,
    );
    expect(cliError(wrapped, wrapped.message, "network")).toEqual({
      message:
        "no AWS region set: pass --region <name>, set AWS_REGION, or set `region` for the profile in ~/.aws/config.",
      code: "region",
      exitCode: 1,
    });
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
    ["ListBuckets ok: 1 buckets", "ListBuckets ok: 1 bucket"],
    ["pushed 1 values and 1 deletions", "pushed 1 value and 1 deletion"],
    ["1 prefixes", "1 prefix"],
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

it("regionMessage: missing, empty and refused regions", () => {
  expect(regionMessage(new Error("Region is missing"))).toMatch(/^no AWS region set: pass --region <name>/);
  expect(regionMessage(new Error('Region not accepted: region="" is not a valid hostname component.'))).toMatch(
    /^no AWS region set/,
  );
  expect(regionMessage(new Error('Region not accepted: region="eu west" is not a valid hostname component.'))).toBe(
    'the region "eu west" is not a region name: pass --region <name> (e.g. eu-west-1) or correct AWS_REGION / the profile\'s `region`.',
  );
  expect(regionMessage(new Error("connect ECONNREFUSED"))).toBeUndefined();
});
