import { blobVersionsOf } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import type { AnyResource } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { getItemOrThrow } from "../get/get.ts";
import { commit } from "../write/commit.ts";
import { ownFields, prepareWrite } from "../write/prepare.ts";

/** Write version `version`'s fields as a new latest version: 2 consistent GetItems + 1 TransactWriteItems. */
export async function restoreVersion(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  version: number,
  opts: SignalOptions,
): Promise<unknown> {
  if (!resource.versioned) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `restore: ${resource.type} is not versioned; nothing to restore`,
    );
  }
  const old = await getItemOrThrow(ctx, resource, id, { version, consistentRead: true, ...opts });
  const latest = await getItemOrThrow(ctx, resource, id, { consistentRead: true, ...opts });
  const prepared = prepareWrite(
    ctx,
    resource,
    latest as Record<string, unknown>,
    ownFields(old as Record<string, unknown>),
    false,
    "restore",
    { versions: blobVersionsOf(old) ?? {} },
  );
  await commit(ctx, prepared.actions, `restore ${resource.type} ${id} v${version}`, opts.signal);
  await prepared.after?.(opts.signal);
  return prepared.item;
}
