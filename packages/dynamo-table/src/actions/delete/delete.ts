import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { hasBlobFields, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { blobPrefix, deleteBlobPrefix } from "../blobs/blobs.ts";
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
    const blobs = hasBlobFields(resource)
      ? await deleteBlobPrefix(ctx, resource, blobPrefix(resource, id), opts.signal)
      : 0;
    return out.Attributes !== undefined || blobs > 0;
  }
  const out = await ctx.send<{ Attributes?: StoredItem }>(
    what,
    new DeleteCommand({ TableName: ctx.tableName, Key: { pk, sk: "v0" }, ReturnValues: "ALL_OLD" }),
    opts.signal,
  );
  const history = await deleteHistory(ctx, resource, id, opts.signal);
  // Every version's blobs: the prefix ends in `/`, so id `abc` never takes `abcd`'s objects.
  const blobs = hasBlobFields(resource)
    ? await deleteBlobPrefix(ctx, resource, blobPrefix(resource, id), opts.signal)
    : 0;
  return out.Attributes !== undefined || history > 0 || blobs > 0;
}
