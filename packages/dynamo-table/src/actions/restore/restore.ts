import { blobVersionsOf } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import type { AnyResource } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import type { AuditOptions } from "../audit/audit.ts";
import { getItemOrThrow } from "../get/get.ts";
import { commit } from "../write/commit.ts";
import { ownFields, prepareWrite } from "../write/prepare.ts";

/** Write version `version`'s fields as a new latest version: 2 consistent GetItems + 1 TransactWriteItems. */
export async function restoreVersion(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  version: number,
  opts: SignalOptions & AuditOptions,
): Promise<unknown> {
  if (!resource.versioned) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `restore: ${resource.type} is not versioned; nothing to restore`,
    );
  }
  const read = { consistentRead: true, ...(opts.signal ? { signal: opts.signal } : {}) };
  const old = await getItemOrThrow(ctx, resource, id, { version, ...read });
  const latest = await getItemOrThrow(ctx, resource, id, read);
  const prepared = prepareWrite(
    ctx,
    resource,
    latest as Record<string, unknown>,
    ownFields(old as Record<string, unknown>),
    false,
    "restore",
    { versions: blobVersionsOf(old) ?? {}, audit: opts, operation: "RESTORE" },
  );
  await commit(ctx, prepared.actions, `restore ${resource.type} ${id} v${version}`, opts.signal);
  await prepared.after?.(opts.signal);
  return prepared.item;
}
