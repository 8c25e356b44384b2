import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { DynamoTableError } from "./errors.ts";

/** Hash of everything that defines a query; a cursor is valid only for the query with the same hash. */
export function queryFingerprint(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);
}

function mac(secret: string, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest().subarray(0, 16);
}

/**
 * An opaque cursor: base64url of `{q, k}` (query fingerprint, DynamoDB's ExclusiveStartKey) plus an HMAC
 * over it, so an altered cursor or one from another query is rejected instead of restarting from page one.
 */
export function encodeCursor(secret: string, fingerprint: string, key: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify({ q: fingerprint, k: key }), "utf8").toString("base64url");
  return `${body}.${mac(secret, body).toString("base64url")}`;
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
  if (typeof cursor !== "string" || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(cursor)) throw bad("is malformed");
  const [body, tag] = cursor.split(".") as [string, string];
  const expected = mac(secret, body);
  const given = Buffer.from(tag, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw bad("was altered or issued for another table");
  }
  let parsed: { q?: unknown; k?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as typeof parsed;
  } catch (error) {
    throw bad("is malformed", error);
  }
  if (parsed.q !== fingerprint)
    throw bad("was issued for a different query (type, index, key condition, order or filter)");
  if (typeof parsed.k !== "object" || parsed.k === null) throw bad("is malformed");
  return parsed.k as Record<string, unknown>;
}
