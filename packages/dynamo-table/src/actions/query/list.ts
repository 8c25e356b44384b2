import type { TableContext } from "../../context.ts";
import type { AnyResource } from "../../resource.ts";
import type { ListOptions, Page } from "./options.ts";
import { type QuerySpec, runQuery } from "./run-query.ts";

function typeIndexSpec(resource: AnyResource): QuerySpec {
  return {
    index: "gsitype",
    keyCondition: "#tk = :tv",
    names: { "#tk": "gsitype" },
    values: { ":tv": resource.type },
    keyAttributes: ["pk", "sk", "gsitype", "gsitypesk"],
  };
}

/** One page of a type by `updatedAt` (the `gsitype` index). */
export function listItems<T>(ctx: TableContext, resource: AnyResource, options: ListOptions<T>): Promise<Page<T>> {
  return runQuery(ctx, resource, typeIndexSpec(resource), options, `list ${resource.type}`);
}

/** Every item of a type, page by page. */
export async function* iterateItems<T>(
  ctx: TableContext,
  resource: AnyResource,
  options: Omit<ListOptions<T>, "cursor">,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await runQuery<T>(
      ctx,
      resource,
      typeIndexSpec(resource),
      { ...options, cursor },
      `list ${resource.type}`,
    );
    for (const item of page.items) yield item;
    cursor = page.cursor;
  } while (cursor);
}
