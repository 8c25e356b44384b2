import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import { silentLogger } from "@toolkit/shared";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { encodeItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { defineResource } from "../../resource.ts";
import { batchGetItems, MAX_BATCH_GET_KEYS } from "./batch-get.ts";

const Tag = defineResource({ type: "Tag", schema: z.object({ name: z.string() }) });
const stored = (id: string) =>
  encodeItem(
    Tag,
    { id, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", name: id },
    `Tag#${id}`,
    true,
  );

/** A context whose `send` answers BatchGetItem from `items`, leaving `unprocessed(call)` keys for later. */
function fakeContext(
  items: Map<string, Record<string, unknown>>,
  unprocessed: (call: number, keys: unknown[]) => number,
) {
  const requests: { keys: number; consistent: boolean | undefined }[] = [];
  const ctx = {
    tableName: "t",
    consistentRead: false,
    logger: silentLogger,
    async send(_what: string, command: unknown) {
      expect(command).toBeInstanceOf(BatchGetCommand);
      const input = (command as BatchGetCommand).input.RequestItems!.t!;
      const keys = input.Keys as { pk: string }[];
      requests.push({ keys: keys.length, consistent: input.ConsistentRead });
      const left = unprocessed(requests.length, keys);
      const served = keys.slice(0, keys.length - left);
      return {
        Responses: { t: served.map((k) => items.get(k.pk)).filter((i) => i !== undefined) },
        ...(left > 0 ? { UnprocessedKeys: { t: { Keys: keys.slice(keys.length - left) } } } : {}),
      };
    },
  } as unknown as TableContext;
  return { ctx, requests };
}

describe("batchGetItems", () => {
  it("asks for at most 100 keys a request, retries unprocessed keys, and keeps the order of the ids", async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `id${String(i).padStart(3, "0")}`);
    const items = new Map(ids.filter((_, i) => i % 7 !== 0).map((id) => [`Tag#${id}`, stored(id)]));
    // The first two requests leave 30 keys unprocessed each.
    const { ctx, requests } = fakeContext(items, (call) => (call <= 2 ? 30 : 0));
    const got = await batchGetItems(ctx, Tag, [...ids].reverse().concat(ids[0]!), { consistentRead: true });
    expect(Math.max(...requests.map((r) => r.keys))).toBe(MAX_BATCH_GET_KEYS);
    expect(requests.reduce((n, r) => n + r.keys, 0)).toBe(250 + 60);
    expect(requests.every((r) => r.consistent === true)).toBe(true);
    const expected = [...ids].reverse().filter((_, i, all) => Number(all[i]!.slice(2)) % 7 !== 0);
    expect([...got.keys()]).toEqual(expected);
    expect((got.get("id001") as { name: string }).name).toBe("id001");
  });

  it("gives up with table.request when keys stay unprocessed", async () => {
    const { ctx } = fakeContext(new Map(), (_call, keys) => keys.length);
    await expect(batchGetItems(ctx, Tag, ["a"], {})).rejects.toMatchObject({ code: "table.request" });
  }, 30_000);

  it("refuses an empty id before any request", async () => {
    const { ctx, requests } = fakeContext(new Map(), () => 0);
    await expect(batchGetItems(ctx, Tag, ["a", ""], {})).rejects.toMatchObject({ code: "table.invalidOptions" });
    expect(requests).toHaveLength(0);
    expect((await batchGetItems(ctx, Tag, [], {})).size).toBe(0);
  });
});
