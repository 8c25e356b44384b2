import { hasBlobFields, latestSortKey } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { InputOf, ItemOf, PatchOf, SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { type AuditOptions, auditAction, auditItem, bumpStats } from "../audit/audit.ts";
import { blobPrefix, deleteBlobPrefix } from "../blobs/blobs.ts";
import { deleteHistory } from "../history/history.ts";
import { commit } from "../write/commit.ts";
import { type Action, ownFields, type PreparedWrite, prepareCreate, prepareWrite } from "../write/prepare.ts";

/** DynamoDB's limit of actions in one TransactWriteItems call. */
export const MAX_TRANSACTION_ACTIONS = 100;

/** Collects the actions of a transaction; every method throws on invalid input before any request. */
export interface TransactionBuilder {
  /** Create an item; returns the item as it will be stored. */
  create<R extends AnyResource>(resource: R, input: InputOf<R>, options?: { id?: string } & AuditOptions): ItemOf<R>;
  /** Update an item from the version you hold (optimistic); returns the new item. */
  update<R extends AnyResource>(
    resource: R,
    current: ItemOf<R>,
    patch: PatchOf<R>,
    options?: { force?: boolean } & AuditOptions,
  ): ItemOf<R>;
  /** Delete an item. Versioned: the latest copy in the transaction, its history right after the commit. */
  delete<R extends AnyResource>(resource: R, id: string, options?: { version?: number } & AuditOptions): void;
  /** Fail the transaction unless the item exists (and is at `version`, for a versioned resource). */
  check<R extends AnyResource>(resource: R, id: string, options?: { version?: number }): void;
}

/** What `transaction` resolves once committed. */
export interface TransactionResult<T> {
  /** What the callback returned, e.g. the items `tx.create` / `tx.update` returned. */
  result: T;
  /** Every item created or updated, in the order of the actions. */
  items: unknown[];
}

/**
 * Collect actions with the builder (each validated before any request) and commit them as one
 * TransactWriteItems; then prune and delete versioned history as the single calls do.
 */
export async function runTransaction<T>(
  ctx: TableContext,
  fn: (tx: TransactionBuilder) => T | Promise<T>,
  options: SignalOptions,
): Promise<TransactionResult<Awaited<T>>> {
  const writes: PreparedWrite[] = [];
  const actions: Action[] = [];
  const deletes: { resource: AnyResource; id: string }[] = [];
  const add = (w: PreparedWrite) => {
    writes.push(w);
    actions.push(...w.actions);
    return w.item as never;
  };
  const tx: TransactionBuilder = {
    create: (resource, input, o) => add(prepareCreate(ctx, resource, input, o?.id, o ?? {})),
    update: (resource, current, patch, o) =>
      add(
        prepareWrite(
          ctx,
          resource,
          current as Record<string, unknown>,
          { ...ownFields(current as Record<string, unknown>), ...(patch as object) },
          o?.force ?? false,
          "update",
          { changed: new Set(Object.keys(patch as object)), audit: o ?? {} },
        ),
      ),
    delete: (resource, id, o) => {
      assertId(resource, id, "transaction delete");
      const pk = partitionKey(resource, id);
      const versionCheck = resource.versioned && o?.version !== undefined;
      actions.push({
        describe: `delete ${pk}`,
        kind: "delete",
        resource,
        id,
        ...(o?.version !== undefined ? { version: o.version } : {}),
        request: {
          Delete: {
            TableName: ctx.tableName,
            Key: { pk, sk: latestSortKey(resource, id) },
            ...(versionCheck
              ? {
                  ConditionExpression: "#version = :v",
                  ExpressionAttributeNames: { "#version": "version" },
                  ExpressionAttributeValues: { ":v": o.version },
                }
              : {}),
            ...(versionCheck ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
          },
        },
      });
      if (resource.audit) {
        const entry = auditItem(ctx, resource, "DELETE", id, undefined, undefined, o ?? {}, "transaction delete");
        actions.push(auditAction(ctx, resource, id, entry));
      }
      if (resource.versioned || hasBlobFields(resource) || resource.stats) deletes.push({ resource, id });
    },
    check: (resource, id, o) => {
      assertId(resource, id, "transaction check");
      const pk = partitionKey(resource, id);
      const withVersion = o?.version !== undefined;
      actions.push({
        describe: `check ${pk}`,
        kind: "check",
        resource,
        id,
        ...(withVersion ? { version: o.version } : {}),
        request: {
          ConditionCheck: {
            TableName: ctx.tableName,
            Key: { pk, sk: latestSortKey(resource, id) },
            ConditionExpression: withVersion ? "attribute_exists(pk) AND #version = :v" : "attribute_exists(pk)",
            ...(withVersion
              ? {
                  ExpressionAttributeNames: { "#version": "version" },
                  ExpressionAttributeValues: { ":v": o.version },
                }
              : {}),
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          },
        },
      });
    },
  };
  const result = await fn(tx);
  if (actions.length === 0) return { result, items: [] };
  if (actions.length > MAX_TRANSACTION_ACTIONS) {
    throw new DynamoTableError(
      "table.transactionTooLarge",
      `transaction has ${actions.length} actions (a versioned create or update takes 2); DynamoDB allows at most ${MAX_TRANSACTION_ACTIONS}: split it`,
    );
  }
  await commit(ctx, actions, "transaction", options.signal);
  for (const w of writes) await w.after?.(options.signal);
  for (const d of deletes) {
    if (d.resource.stats) await bumpStats(ctx, d.resource, -1, options.signal);
    if (d.resource.versioned) await deleteHistory(ctx, d.resource, d.id, options.signal);
    if (hasBlobFields(d.resource))
      await deleteBlobPrefix(ctx, d.resource, blobPrefix(d.resource, d.id), options.signal);
  }
  return { result, items: writes.map((w) => w.item) };
}
