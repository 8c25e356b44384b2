import type { TableContext } from "../../context.ts";
import type { AnyResource } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import type { AuditOptions } from "../audit/audit.ts";
import { commit } from "../write/commit.ts";
import { ownFields, prepareWrite } from "../write/prepare.ts";

export interface UpdateOptions extends SignalOptions, AuditOptions {
  /** Non-versioned resources: write even if the item changed since it was read. @default false */
  force?: boolean;
}

/**
 * Write `patch` over the item you hold, optimistically: versioned, a TransactWriteItems of `v{n+1}` and `v0`
 * conditional on `version`; otherwise a PutItem conditional on `updatedAt` (unless `force`). Prunes after.
 */
export async function updateItem(
  ctx: TableContext,
  resource: AnyResource,
  current: Record<string, unknown>,
  patch: object,
  options: UpdateOptions,
): Promise<unknown> {
  const prepared = prepareWrite(
    ctx,
    resource,
    current,
    { ...ownFields(current), ...patch },
    options.force ?? false,
    "update",
    { changed: new Set(Object.keys(patch)), audit: options },
  );
  await commit(ctx, prepared.actions, `update ${resource.type} ${String(current?.id)}`, options.signal);
  await prepared.after?.(options.signal);
  return prepared.item;
}
