import type { TableContext } from "../../context.ts";
import type { AnyResource } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import type { AuditOptions } from "../audit/audit.ts";
import { commit } from "../write/commit.ts";
import { prepareCreate } from "../write/prepare.ts";

export interface CreateOptions extends SignalOptions, AuditOptions {
  /** Use this id instead of a new ULID; fails with `table.alreadyExists` when taken. */
  id?: string;
}

/** Create an item: one conditional PutItem (versioned: a TransactWriteItems of `v1` and `v0`). */
export async function createItem(
  ctx: TableContext,
  resource: AnyResource,
  input: unknown,
  options: CreateOptions,
): Promise<unknown> {
  const prepared = prepareCreate(ctx, resource, input, options.id, options);
  await commit(ctx, prepared.actions, `create ${resource.type}`, options.signal);
  await prepared.after?.(options.signal);
  return prepared.item;
}
