import { describe, expect, it } from "vitest";
import {
  ExitCode,
  errorCodeFor,
  exitCodeFor,
  exitCodeForCode,
  InterruptedError,
  oneLineMessage,
  PartialFailureError,
  registerExitCodes,
} from "./exit-codes.ts";

const coded = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

describe("exitCodeFor", () => {
  it.each([
    ["invalidLocation", 2],
    ["invalidOptions", 2],
    ["invalidKey", 2],
    ["kv.invalidKey", 2],
    ["table.validation", 2],
    ["delta.invalidRatio", 2],
    ["photo.partial", 3],
    ["partial", 3],
    ["aborted", 130],
    ["object.aborted", 130],
    ["kv.readOnly", 1],
    ["object.integrity", 1],
    ["noSuchBucket", 1],
    ["notFound", 1],
    ["invalidation", 1], // `invalid` must be followed by a capital or end the code
    ["ENOENT", 1],
  ])("maps code %s to %i", (code, exit) => {
    expect(exitCodeFor(coded(code))).toBe(exit);
  });

  it("lets registered codes and per-command overrides win over the suffix rules", () => {
    registerExitCodes({ "test.readOnlyUsage": ExitCode.usage });
    expect(exitCodeFor(coded("test.readOnlyUsage"))).toBe(2);
    expect(exitCodeFor(coded("kv.readOnly"), { overrides: { "kv.readOnly": ExitCode.usage } })).toBe(2);
    expect(exitCodeForCode("kv.invalidKey", { "kv.invalidKey": ExitCode.failure })).toBe(1);
  });

  it("treats oclif parse errors, flag parse errors and option TypeErrors as usage errors", () => {
    const parseError = Object.assign(new Error("Missing 1 required arg"), { parse: {}, oclif: { exit: 2 } });
    expect(exitCodeFor(parseError)).toBe(2);
    expect(exitCodeFor(new Error("Parsing --concurrency \n\tExpected an integer"))).toBe(2);
    expect(exitCodeFor(new TypeError("Expected `partSizeBytes` to be an integer >= 5242880, got `3`"))).toBe(2);
    expect(exitCodeFor(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(1);
  });

  it("interrupts: abort errors and anything after the signal fired exit 130", () => {
    expect(exitCodeFor(new InterruptedError("SIGINT"))).toBe(130);
    expect(exitCodeFor(new DOMException("aborted", "AbortError"))).toBe(130);
    expect(exitCodeFor(coded("network"), { aborted: true })).toBe(130);
  });

  it("keeps the code of oclif's this.exit(n) and of a partial failure", () => {
    expect(exitCodeFor(Object.assign(new Error("EEXIT: 4"), { code: "EEXIT", oclif: { exit: 4 } }))).toBe(4);
    expect(exitCodeFor(new PartialFailureError("2 of 10 failed", { result: { failed: 2 } }))).toBe(3);
  });

  it("defaults to 1", () => {
    expect(exitCodeFor(new Error("boom"))).toBe(1);
    expect(exitCodeFor("a string")).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
  });
});

describe("errorCodeFor", () => {
  it("uses the error's code, else a name for the exit code", () => {
    expect(errorCodeFor(coded("kv.readOnly"), 1)).toBe("kv.readOnly");
    expect(errorCodeFor(new Error("x"), 2)).toBe("usage");
    expect(errorCodeFor(new Error("x"), 130)).toBe("interrupted");
    expect(errorCodeFor(new Error("x"), 1)).toBe("error");
  });
});

describe("oneLineMessage", () => {
  it("joins oclif's multi-line messages into one line", () => {
    const message = "Missing 1 required arg:\nlocation  Where to list\nSee more help with --help";
    expect(oneLineMessage(new Error(message))).toBe(
      "Missing 1 required arg: location Where to list; See more help with --help",
    );
  });

  it("never returns an empty line", () => {
    expect(oneLineMessage(new Error(""))).toBe("Error");
    expect(oneLineMessage(undefined)).toBe("unknown error");
  });
});
