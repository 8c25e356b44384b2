import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import type { StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { deleteHistory } from "../history/history.ts";

/**
 * Delete an item and every version. Versioned: the latest copy first (from then on the item reads as missing
 * and concurrent updates fail), then the history, paginated. Resolves `false` when there was nothing.
 */
export async function deleteItem(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  opts: SignalOptions,
): Promise<boolean> {
  assertId(resource, id, "delete");
  const pk = partitionKey(resource, id);
  const what = `delete ${resource.type} ${id}`;
  if (!resource.versioned) {
    const out = await ctx.send<{ Attributes?: StoredItem }>(
      what,
      new DeleteCommand({ TableName: ctx.tableName, Key: { pk, sk: pk }, ReturnValues: "ALL_OLD" }),
      opts.signal,
    );
    return out.Attributes !== undefined;
  }
  const out = await ctx.send<{ Attributes?: StoredItem }>(
    what,
    new DeleteCommand({ TableName: ctx.tableName, Key: { pk, sk: "v0" }, ReturnValues: "ALL_OLD" }),
    opts.signal,
  );
  const history = await deleteHistory(ctx, resource, id, opts.signal);
  return out.Attributes !== undefined || history > 0;
}
