import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { decodeItem, fitIndexAttributes, hasBlobFields, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { type AuditOptions, auditItem, bumpStats } from "../audit/audit.ts";
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
  opts: SignalOptions & AuditOptions,
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
    if (out.Attributes !== undefined) await afterDelete(ctx, resource, id, out.Attributes, opts);
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
  if (out.Attributes !== undefined) await afterDelete(ctx, resource, id, out.Attributes, opts);
  return out.Attributes !== undefined || history > 0 || blobs > 0;
}

/**
 * The audit entry (DELETE, with the deleted item as its snapshot) and the stats count of a delete, written
 * after it: a delete of a versioned item spans several requests, so it cannot share their transaction.
 */
export async function afterDelete(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  stored: StoredItem | undefined,
  opts: SignalOptions & AuditOptions,
): Promise<void> {
  if (resource.audit) {
    let before: Record<string, unknown> | undefined;
    try {
      before = stored ? (decodeItem(resource, stored) as Record<string, unknown> | undefined) : undefined;
    } catch {
      before = undefined; // a corrupt item is still deleted; its entry has no snapshot
    }
    const item = auditItem(ctx, resource, "DELETE", id, before, before, opts, `delete ${resource.type} ${id}`);
    const indexes = await ctx.describeIndexes(opts.signal);
    if (indexes) fitIndexAttributes(item, indexes);
    await ctx.send(
      `audit delete ${resource.type} ${id}`,
      new PutCommand({ TableName: ctx.tableName, Item: item }),
      opts.signal,
    );
  }
  if (resource.stats) await bumpStats(ctx, resource, -1, opts.signal);
}
