import { describe, expect, test } from "vitest";
import { formatLocation, parseLocation, parseLocationOrPath } from "./location.ts";

describe("parseLocation", () => {
  test.each([
    ["s3://my-bucket", { kind: "s3", bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/", { kind: "s3", bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/Lightroom", { kind: "s3", bucket: "my-bucket", prefix: "Lightroom/" }],
    ["s3://my.bucket/a b/c+d/", { kind: "s3", bucket: "my.bucket", prefix: "a b/c+d/" }],
    ["file:///srv/backup", { kind: "file", root: "/srv/backup" }],
    ["file:///srv/backup/", { kind: "file", root: "/srv/backup" }],
    ["file:///srv/with%20space", { kind: "file", root: "/srv/with space" }],
  ])("%s", (input, expected) => {
    expect(parseLocation(input)).toEqual(expected);
  });

  test.each([
    ["", /empty/],
    ["s3://", /bucket name is missing/],
    ["s3:///prefix", /bucket name is missing/],
    ["s3://Bad_Bucket/x", /not a valid bucket name/],
    ["s3://ab", /not a valid bucket name/],
    ["s3://bucket/../x", /`\.\.` path segments/],
    ["s3://bucket//x", /starts with `\/`/],
    ["s3://bucket/a//x", /empty segment/],
    ["file://relative/dir", /must be absolute/],
    ["file:relative", /must be absolute/],
    ["file:///srv/../etc", /`\.\.` path segments/],
    ["http://example.com/x", /scheme `http` is not supported/],

    ["just-a-name", /no scheme/],
    ["s3:/x", /`s3:` is followed by two slashes/],
  ])("rejects %j with a message naming the input", (input, why) => {
    let error: unknown;
    try {
      parseLocation(input);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "ObjectStoreError", code: "invalidLocation" });
    expect((error as Error).message).toContain(`\`${input}\``);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).not.toContain("\n");
  });

  test("a query or fragment is refused without echoing it (it may be a signature)", () => {
    for (const input of ["s3://bucket/x?X-Amz-Signature=secretsig", "s3://bucket/x#secretsig"]) {
      expect(() => parseLocation(input)).toThrow(/`s3:\/\/bucket\/x\?…`: it has a query or fragment/);
      expect(() => parseLocation(input)).not.toThrow(/secretsig/);
    }
  });

  test("the prefix is a folder boundary: s3://b/Lightroom never covers Lightroom Backups/", () => {
    const location = parseLocation("s3://bucket/Lightroom");
    expect(location.kind === "s3" && "Lightroom Backups/x".startsWith(location.prefix)).toBe(false);
  });

  test("plain paths resolve against the working directory; URLs format back", () => {
    expect(parseLocationOrPath("backup", "/home/me")).toEqual({ kind: "file", root: "/home/me/backup" });
    expect(formatLocation(parseLocation("s3://bucket/p"), "k.txt")).toBe("s3://bucket/p/k.txt");
    expect(formatLocation(parseLocation("file:///a b"))).toBe("file:///a%20b");
  });
});
