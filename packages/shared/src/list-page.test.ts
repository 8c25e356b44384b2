import { describe, expect, test } from "vitest";
import { isObjectStoreError } from "./errors.ts";
import { listedObjects, parseListPage, type RawListPage } from "./list-page.ts";

const page = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</ListBucketResult>`;
const contents = (key: string, extra = "") =>
  `<Contents><Key>${key}</Key><LastModified>2026-12-05T21:14:03.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>65536</Size><StorageClass>STANDARD</StorageClass>${extra}</Contents>`;

describe("parseListPage", () => {
  test("reads objects, prefixes, the truncation flag and the continuation token", () => {
    const parsed = parseListPage(
      page(
        `<Name>b</Name><Prefix>photos/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>` +
          contents("photos/a.jpg", "<Owner><ID>75aa57f0</ID><DisplayName>webfile</DisplayName></Owner>") +
          contents("photos/b &amp; c &lt;1&gt; &#34;q&#x27; &apos;.jpg") +
          `<Contents><Key><![CDATA[photos/<cdata>.jpg]]></Key><Size>0</Size></Contents>` +
          `<CommonPrefixes><Prefix>photos/2024/</Prefix></CommonPrefixes>`,
      ),
    );
    expect(parsed.isTruncated).toBe(true);
    expect(parsed.nextContinuationToken).toBe("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    expect(parsed.prefixes).toEqual(["photos/2024/"]);
    expect(parsed.contents.map((c) => c.Key)).toEqual([
      "photos/a.jpg",
      `photos/b & c <1> "q' '.jpg`,
      "photos/<cdata>.jpg",
    ]);
    expect(parsed.contents[0]).toEqual({
      Key: "photos/a.jpg",
      Size: "65536",
      ETag: '"9b2cf535f27731c974343645a3985328"',
      LastModified: "2026-12-05T21:14:03.000Z",
      StorageClass: "STANDARD",
    });
  });

  test("reads an indented page with CRLF line ends and comments as the compact one", () => {
    const compact = parseListPage(page(`<IsTruncated>false</IsTruncated>${contents("k")}`));
    const pretty = parseListPage(
      page(
        `\r\n  <!-- a comment -->\r\n  <IsTruncated>false</IsTruncated>\r\n  <Contents>\r\n    <Key>k</Key>\r\n    <LastModified>2026-12-05T21:14:03.000Z</LastModified>\r\n    <ETag>"9b2cf535f27731c974343645a3985328"</ETag>\r\n    <Size>65536</Size>\r\n    <StorageClass>STANDARD</StorageClass>\r\n  </Contents>\r\n`,
      ),
    );
    expect(pretty).toEqual(compact);
    expect(compact.isTruncated).toBe(false);
  });

  test("keeps spaces and line breaks inside a key; a whitespace-only key with a line break reads as empty (as the SDK)", () => {
    const parsed = parseListPage(page(`<Contents><Key> a\r\nb </Key></Contents><Contents><Key>&#10;</Key></Contents>`));
    expect(parsed.contents.map((c) => c.Key)).toEqual([" a\nb ", ""]);
  });

  test.each([
    ["another root element", `<Error><Code>AccessDenied</Code></Error>`],
    ["a DOCTYPE", `<!DOCTYPE x [<!ENTITY a "b">]>${page("")}`],
    ["mismatched tags", page("<Contents><Key>a</Size></Contents>")],
    ["an unclosed element", page("<Contents><Key>a</Key>").replace("</ListBucketResult>", "")],
    ["a field given twice", page("<Contents><Key>a</Key><Key>b</Key></Contents>")],
    ["text outside the root", `${page("")}trailing`],
    ["two roots", `${page("")}${page("")}`],
    ["a truncation flag that is not a boolean", page("<IsTruncated>yes</IsTruncated>")],
    ["a character reference out of range", page("<Contents><Key>&#x110000;</Key></Contents>")],
    ["nesting deeper than a listing", page(`${"<a>".repeat(20)}${"</a>".repeat(20)}`)],
    ["an empty body", ""],
  ])("throws on %s (the store then asks the SDK)", (_, body) => {
    expect(() => parseListPage(body)).toThrow();
  });
});

describe("listedObjects", () => {
  const raw = (contents: RawListPage["contents"]): RawListPage => ({ contents, prefixes: [], isTruncated: false });

  test("parses sizes and times, leaves out entries without a key, defaults what is missing", () => {
    const objects = listedObjects(
      raw([
        { Key: "a", Size: "65536", ETag: '"e"', LastModified: "2026-12-05T21:14:03.000Z", StorageClass: "GLACIER" },
        { Key: "", Size: "1" },
        { Size: "1" },
        { Key: "b", Size: 7, LastModified: new Date(5) },
        { Key: "c" },
      ]),
      "s3://b/p/",
    );
    expect(objects).toEqual([
      {
        key: "a",
        size: 65536,
        etag: '"e"',
        lastModified: new Date("2026-12-05T21:14:03.000Z"),
        storageClass: "GLACIER",
      },
      { key: "b", size: 7, etag: "", lastModified: new Date(5) },
      { key: "c", size: 0, etag: "", lastModified: new Date(0) },
    ]);
  });

  test.each([["-1"], ["1e3"], ["12.5"], ["abc"], ["99999999999999999"], [""]])(
    "refuses the size %j as invalidRemoteData",
    (size) => {
      const error = (() => {
        try {
          listedObjects(raw([{ Key: "x", Size: size }]), "s3://b/p/");
        } catch (e) {
          return e;
        }
      })();
      expect(isObjectStoreError(error, "invalidRemoteData")).toBe(true);
    },
  );

  test.each([["yesterday"], ["2026-13-45T99:99:99Z"], ["2026-12-05"], [""]])(
    "refuses the time %j as invalidRemoteData",
    (time) => {
      expect(() => listedObjects(raw([{ Key: "x", Size: "1", LastModified: time }]), "s3://b/p/")).toThrow(
        expect.objectContaining({ code: "invalidRemoteData" }),
      );
    },
  );
});
