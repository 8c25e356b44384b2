import type { TableContext } from "../../context.ts";
import { type AnyResource, SINGLETON_ID } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { type GetOptions, getItem } from "../get/get.ts";
import { commit } from "../write/commit.ts";
import { prepareCreate, prepareWrite } from "../write/prepare.ts";

/** The one item of a singleton type. */
export function getSingleton(ctx: TableContext, resource: AnyResource, opts: GetOptions): Promise<unknown> {
  return getItem(ctx, resource, SINGLETON_ID, opts);
}

/**
 * Create or replace the singleton's fields: reads the current copy (consistently), then writes conditionally
 * on it, so a change between the read and the write fails unless `force` (non-versioned singletons).
 */
export async function putSingleton(
  ctx: TableContext,
  resource: AnyResource,
  value: unknown,
  opts: SignalOptions & { force?: boolean },
): Promise<unknown> {
  const what = `put singleton ${resource.type}`;
  const current = await getItem(ctx, resource, SINGLETON_ID, {
    consistentRead: true,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (!current) {
    const prepared = prepareCreate(ctx, resource, value, SINGLETON_ID);
    await commit(ctx, prepared.actions, what, opts.signal);
    await prepared.after?.(opts.signal);
    return prepared.item;
  }
  const prepared = prepareWrite(
    ctx,
    resource,
    current as Record<string, unknown>,
    value as Record<string, unknown>,
    opts.force ?? false,
    "put singleton",
  );
  await commit(ctx, prepared.actions, what, opts.signal);
  await prepared.after?.(opts.signal);
  return prepared.item;
}
