import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { DynamoTableError } from "./errors.ts";

/** Hash of everything that defines a query; a cursor is valid only for the query with the same hash. */
export function queryFingerprint(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);
}

function mac(secret: string, body: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(body).digest().subarray(0, 16);
}

/**
 * An opaque cursor: base64url of a 16-byte HMAC followed by the JSON `{q, k}` (query fingerprint, DynamoDB's
 * ExclusiveStartKey), so an altered cursor or one from another query is rejected instead of restarting from
 * page one.
 */
export function encodeCursor(secret: string, fingerprint: string, key: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify({ q: fingerprint, k: key }), "utf8");
  return Buffer.concat([mac(secret, body), body]).toString("base64url");
}

export function decodeCursor(
  secret: string,
  fingerprint: string,
  cursor: string,
  what: string,
): Record<string, unknown> {
  const bad = (reason: string, cause?: unknown) =>
    new DynamoTableError(
      "table.invalidCursor",
      `${what}: the cursor ${reason}; pass the cursor returned by the same query, or omit it to start from the first page`,
      cause === undefined ? undefined : { cause },
    );
  if (typeof cursor !== "string" || !/^[A-Za-z0-9_-]{24,}$/.test(cursor)) throw bad("is malformed");
  const bytes = Buffer.from(cursor, "base64url");
  const tag = bytes.subarray(0, 16);
  const body = bytes.subarray(16);
  const expected = mac(secret, body);
  if (tag.length !== expected.length || !timingSafeEqual(tag, expected)) {
    throw bad("was altered or issued for another table");
  }
  let parsed: { q?: unknown; k?: unknown };
  try {
    parsed = JSON.parse(body.toString("utf8")) as typeof parsed;
  } catch (error) {
    throw bad("is malformed", error);
  }
  if (parsed.q !== fingerprint)
    throw bad("was issued for a different query (type, index, key condition, order or filter)");
  if (typeof parsed.k !== "object" || parsed.k === null) throw bad("is malformed");
  return parsed.k as Record<string, unknown>;
}

let processSecret: string | undefined;

/**
 * The default cursor secret: random, made once per process. A secret derived from anything public (the table
 * name) would let anyone who knows it forge a cursor, i.e. an `ExclusiveStartKey` of their choice.
 */
export function defaultCursorSecret(): string {
  processSecret ??= randomBytes(32).toString("base64url");
  return processSecret;
}
