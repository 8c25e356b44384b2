import { decodeItem, parseVersionSortKey } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import type { AnyResource } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { getItem } from "../get/get.ts";
import { itemPages } from "../history/history.ts";

/** Every stored version, oldest first (numeric order: v10 after v9); Query pages past 1 MB. */
export async function listVersions(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  opts: SignalOptions,
): Promise<unknown[]> {
  assertId(resource, id, "versions");
  if (!resource.versioned) {
    const item = await getItem(ctx, resource, id, { consistentRead: true, ...opts });
    return item ? [item] : [];
  }
  const out: { n: number; item: unknown }[] = [];
  const nowMs = Date.now();
  for await (const page of itemPages(ctx, resource, id, false, opts.signal)) {
    for (const stored of page) {
      const n = parseVersionSortKey(stored.sk);
      if (n === undefined) continue;
      const item = decodeItem(resource, stored, nowMs);
      if (item !== undefined) out.push({ n, item });
    }
  }
  return out.sort((a, b) => a.n - b.n).map((e) => e.item);
}
