import { ListObjectsV2Command, type ListObjectsV2CommandInput, type S3Client } from "@aws-sdk/client-s3";
import { directRequests } from "./direct-request.ts";
import { ObjectStoreError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { parseSize } from "./trust/remote-input.ts";

/**
 * One ListObjectsV2 page (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html) as the S3 store's
 * `list` reads it: the fields it uses, still untrusted (strings as they came, `Size` unparsed) until
 * {@link listedObjects} has checked them.
 */
export interface RawListPage {
  contents: {
    Key?: string | undefined;
    Size?: unknown;
    ETag?: string | undefined;
    LastModified?: unknown;
    StorageClass?: string | undefined;
  }[];
  prefixes: (string | undefined)[];
  isTruncated: boolean;
  nextContinuationToken?: string | undefined;
}

/** A listed object after {@link listedObjects}: key (full, with the store's prefix), size, ETag, time. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  storageClass?: string;
}

/** RFC 3339 as S3 writes `LastModified` (`2026-12-05T21:14:03.000Z`); an offset is accepted too. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The trust boundary of a listing page, whichever way it was read (the SDK's parser or {@link parseListPage}):
 * a size must be a safe non-negative integer (`parseSize`) and a time a valid RFC 3339 date, else the page is
 * refused with `invalidRemoteData`; an entry without a key is left out; a missing size, ETag or time reads as
 * 0, "" and the epoch (what the store always did with the SDK's output).
 * @param where names the listing in errors, e.g. `s3://bucket/prefix/`.
 */
export function listedObjects(page: RawListPage, where: string): ListedObject[] {
  const out: ListedObject[] = [];
  for (const o of page.contents) {
    const key = o.Key;
    if (typeof key !== "string" || key === "") continue;
    const size = o.Size === undefined ? 0 : parseSize(o.Size, `the listed size of ${where} key ${key}`);
    let lastModified: Date;
    if (o.LastModified === undefined) lastModified = new Date(0);
    else if (o.LastModified instanceof Date) lastModified = o.LastModified;
    else if (typeof o.LastModified === "string" && RFC3339.test(o.LastModified)) {
      lastModified = new Date(o.LastModified);
    } else lastModified = new Date(Number.NaN);
    if (Number.isNaN(lastModified.getTime())) {
      throw new ObjectStoreError(
        "invalidRemoteData",
        `the listed LastModified of ${where} key ${key} is ${JSON.stringify(String(o.LastModified).slice(0, 64))}: expected an RFC 3339 time.`,
      );
    }
    out.push({
      key,
      size,
      etag: typeof o.ETag === "string" ? o.ETag : "",
      lastModified,
      ...(typeof o.StorageClass === "string" && o.StorageClass !== "" ? { storageClass: o.StorageClass } : {}),
    });
  }
  return out;
}

/** Thrown by {@link parseListPage} for anything it does not read; the caller then asks the SDK instead. */
class UnreadableXml extends Error {}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|([a-zA-Z][a-zA-Z0-9]{0,30}));/g;

/** XML character references and the five predefined entities (an unknown name reads as "", as the SDK's parser). */
function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (_, hex: string | undefined, dec: string | undefined, named: string | undefined) => {
    if (named !== undefined) return ENTITIES[named] ?? "";
    const code = hex !== undefined ? Number.parseInt(hex, 16) : Number(dec);
    if (code > 0x10ffff) throw new UnreadableXml("character reference out of range");
    return String.fromCodePoint(code);
  });
}

/** A tag name: what XML allows in S3's answers (ASCII names, optional namespace prefix). */
const TAG_NAME = /^[A-Za-z_][\w.:-]*$/;
/** Attributes of a start tag (only the root's `xmlns` in S3's answers): name="value" or name='value', skipped. */
const ATTRIBUTES = /^(?:\s+[^\s=/>"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*$/;
const MAX_DEPTH = 16;

/** Fields of one `Contents` or `CommonPrefixes` element, as read. */
interface Row {
  Key: string | undefined;
  Size: string | undefined;
  ETag: string | undefined;
  LastModified: string | undefined;
  StorageClass: string | undefined;
  Prefix: string | undefined;
}

/**
 * A ListObjectsV2 response body (`<ListBucketResult>`) read in one pass, for the fields the store uses: the
 * `Key`, `Size`, `ETag`, `LastModified`, `StorageClass` of each `Contents`, the `Prefix` of each `CommonPrefixes`,
 * `IsTruncated` and `NextContinuationToken`. Text is read as the SDK's XML parser reads it (line ends normalised
 * to `\n`, character references and the five entities decoded, CDATA kept, comments and processing instructions
 * skipped, whitespace-only text with a line break read as empty). Anything else — another root element, a
 * `DOCTYPE`, a field given twice, mismatched or unclosed tags, deeper nesting than a listing has — throws, and the
 * caller reads the page through the SDK instead. The values are not trusted here: see {@link listedObjects}.
 *
 * Why: the SDK's generic parser and schema deserializer took ~35 µs of CPU per listed key (~70 ms of a 2,000-file
 * no-change backup's ~0.6 s, issue 15 (b)). The page is parsed once per run, so mostly by V8's interpreter: the
 * loop is a few native string searches per element.
 */
export function parseListPage(body: string): RawListPage {
  const x = body.includes("\r") ? body.replace(/\r\n?/g, "\n") : body;
  const page: RawListPage = { contents: [], prefixes: [], isTruncated: false };
  const stack: string[] = [];
  let row: Row | undefined;
  let text = "";
  let rootSeen = false;
  let i = 0;
  while (true) {
    const lt = x.indexOf("<", i);
    if (lt === -1) {
      if (stack.length > 0 || x.slice(i).trim() !== "") throw new UnreadableXml("unexpected end");
      break;
    }
    if (lt > i) {
      if (stack.length === 0) {
        if (x.slice(i, lt).trim() !== "") throw new UnreadableXml("text outside the root element");
      } else text += decodeEntities(x.slice(i, lt));
    }
    const next = x.charCodeAt(lt + 1);
    if (next === 47 /* </ */) {
      const gt = x.indexOf(">", lt);
      if (gt === -1) throw new UnreadableXml("unclosed end tag");
      const name = x.slice(lt + 2, gt).trimEnd();
      if (stack.length === 0 || name !== stack[stack.length - 1]) throw new UnreadableXml("mismatched end tag");
      close(name, text);
      text = "";
      i = gt + 1;
    } else if (next === 63 /* <? */) {
      const end = x.indexOf("?>", lt);
      if (end === -1) throw new UnreadableXml("unclosed processing instruction");
      i = end + 2;
    } else if (next === 33 /* <! */) {
      if (x.startsWith("<!--", lt)) {
        const end = x.indexOf("-->", lt);
        if (end === -1) throw new UnreadableXml("unclosed comment");
        i = end + 3;
      } else if (x.startsWith("<![CDATA[", lt) && stack.length > 0) {
        const end = x.indexOf("]]>", lt);
        if (end === -1) throw new UnreadableXml("unclosed CDATA");
        text += x.slice(lt + 9, end);
        i = end + 3;
      } else throw new UnreadableXml("DOCTYPE or unknown markup");
    } else {
      const gt = x.indexOf(">", lt);
      if (gt === -1) throw new UnreadableXml("unclosed start tag");
      const selfClosing = x.charCodeAt(gt - 1) === 47;
      let name = x.slice(lt + 1, selfClosing ? gt - 1 : gt);
      if (!TAG_NAME.test(name)) {
        // Attributes (the root's xmlns). A `>` inside a quoted value would end the tag early: that fails here.
        const space = name.search(/\s/);
        if (space <= 0 || !ATTRIBUTES.test(name.slice(space))) throw new UnreadableXml("bad start tag");
        name = name.slice(0, space);
        if (!TAG_NAME.test(name)) throw new UnreadableXml("bad tag name");
      }
      if (stack.length === 0) {
        if (rootSeen || name !== "ListBucketResult") throw new UnreadableXml("not a ListBucketResult");
        rootSeen = true;
      }
      if (stack.length >= MAX_DEPTH) throw new UnreadableXml("too deep");
      stack.push(name);
      text = "";
      if (stack.length === 2 && (name === "Contents" || name === "CommonPrefixes")) {
        row = {
          Key: undefined,
          Size: undefined,
          ETag: undefined,
          LastModified: undefined,
          StorageClass: undefined,
          Prefix: undefined,
        };
      }
      if (selfClosing) close(name, "");
      i = gt + 1;
    }
  }
  if (!rootSeen) throw new UnreadableXml("no ListBucketResult");
  return page;

  /** The end of element `name` (top of the stack) whose own text was `raw`. */
  function close(name: string, raw: string): void {
    const depth = stack.length;
    stack.pop();
    // As the SDK's parser: whitespace-only text with a line break (indentation) is no text.
    const value = raw.includes("\n") && raw.trim() === "" ? "" : raw;
    if (depth === 3 && row) {
      if (
        name === "Key" ||
        name === "Size" ||
        name === "ETag" ||
        name === "LastModified" ||
        name === "StorageClass" ||
        name === "Prefix"
      ) {
        if (row[name] !== undefined) throw new UnreadableXml(`${name} given twice`);
        row[name] = value;
      }
    } else if (depth === 2) {
      if (name === "Contents" && row) {
        const r = row;
        page.contents.push({
          Key: r.Key,
          Size: r.Size,
          ETag: r.ETag,
          LastModified: r.LastModified,
          StorageClass: r.StorageClass,
        });
        row = undefined;
      } else if (name === "CommonPrefixes" && row) {
        page.prefixes.push(row.Prefix);
        row = undefined;
      } else if (name === "IsTruncated") {
        if (value !== "true" && value !== "false") throw new UnreadableXml("IsTruncated is not a boolean");
        page.isTruncated = value === "true";
      } else if (name === "NextContinuationToken") {
        page.nextContinuationToken = value;
      }
    }
  }
}

/** At most this many bytes of one listing page are read (1,000 keys of 1,024 bytes, XML-escaped, fit easily). */
const MAX_PAGE_BYTES = 32 * 1024 * 1024;

/** Reads one listing page; `undefined` when the SDK should read it instead. */
export type FastListPage = (
  input: ListObjectsV2CommandInput,
  signal: AbortSignal | undefined,
) => Promise<RawListPage | undefined>;

/**
 * The listing fast path (issue 15 (b)), the same way as the small-PUT one (`fast-put.ts`): a ListObjectsV2 request
 * signed and sent with the SDK's own parts (`direct-request.ts`: the endpoint from the command's endpoint rules,
 * credentials, region, clock offset and hash from the client's config, SigV4, the client's HTTP handler) —
 * and its body read by {@link parseListPage} instead of the SDK's middleware chain and generic XML deserializer.
 *
 * Anything it does not handle is left to the SDK, which sends the request again with its retries, redirects,
 * clock-skew correction and error types: an endpoint whose auth scheme is not plain SigV4, a response other than
 * 200, a network error, a body larger than {@link MAX_PAGE_BYTES} or one {@link parseListPage} does not read.
 * After such a failure the store stops trying the fast path. `S3KIT_FAST_LIST=0` turns it off. Only for clients
 * the store made itself (a caller's client may carry middleware that must see every request).
 */
export function fastListPage(client: S3Client, logger: Logger | undefined): FastListPage {
  const direct = directRequests(client);
  let enabled = process.env.S3KIT_FAST_LIST !== "0";

  async function read(input: ListObjectsV2CommandInput, signal: AbortSignal | undefined) {
    const target = await direct.target(input, ListObjectsV2Command);
    if (!target) return { status: null, page: undefined };
    const { url } = target;
    const query: Record<string, string> = { "list-type": "2" };
    if (input.Prefix !== undefined) query.prefix = input.Prefix;
    if (input.MaxKeys !== undefined) query["max-keys"] = String(input.MaxKeys);
    if (input.Delimiter !== undefined) query.delimiter = input.Delimiter;
    if (input.StartAfter !== undefined) query["start-after"] = input.StartAfter;
    if (input.ContinuationToken !== undefined) query["continuation-token"] = input.ContinuationToken;
    const request = {
      method: "GET",
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: `${target.basePath}/`,
      query,
      headers: { host: url.host },
    };
    const { response } = await direct.send(await direct.sign(request, target), signal);
    const status = response.statusCode;
    if (status !== 200) {
      response.body?.resume?.();
      return { status, page: undefined };
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of response.body ?? []) {
      bytes += chunk.byteLength;
      if (bytes > MAX_PAGE_BYTES) {
        response.body?.destroy?.();
        return { status, page: undefined, bytes };
      }
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
    return { status, page: parseListPage(Buffer.concat(chunks, bytes).toString("utf8")), bytes };
  }

  return async (input, signal) => {
    if (!enabled) return undefined;
    const started = performance.now();
    let outcome: { status: number | null; page: RawListPage | undefined; bytes?: number } | undefined;
    let error: string | undefined;
    try {
      outcome = await read(input, signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      error = (e as Error).name ?? "Error";
    }
    logger?.debug(`s3 ListObjectsV2 ${outcome?.status ?? error ?? "-"}`, {
      operation: "ListObjectsV2",
      direct: true,
      bucket: input.Bucket,
      status: outcome?.status ?? null,
      sentBytes: null,
      receivedBytes: outcome?.bytes ?? null,
      ms: Math.round(performance.now() - started),
      ...(error ? { error } : {}),
      ...(outcome && !outcome.page ? { fallback: "sdk" } : {}),
    });
    if (outcome?.page) return outcome.page;
    // Not read here: the SDK reads it (and every later page) in its own terms.
    enabled = false;
    return undefined;
  };
}
