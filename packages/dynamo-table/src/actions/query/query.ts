import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import type { AnyResource } from "../../resource.ts";
import type { Page, QueryOptions } from "./options.ts";
import { type QuerySpec, runQuery } from "./run-query.ts";

function gsiSpec(resource: AnyResource, gsi: string, options: QueryOptions<unknown>, what: string): QuerySpec {
  const slot = resource.gsiSlots[gsi];
  if (slot === undefined) {
    const known = Object.keys(resource.gsiSlots);
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: ${resource.type} has no GSI \`${gsi}\`; defined: ${known.length > 0 ? known.join(", ") : "none"}`,
    );
  }
  if (typeof options?.pk !== "string" || options.pk === "") {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: \`pk\` must be a non-empty string, got ${JSON.stringify(options?.pk)}`,
    );
  }
  const names: Record<string, string> = { "#gp": `gsi${slot}pk` };
  const values: Record<string, unknown> = { ":gp": options.pk };
  let keyCondition = "#gp = :gp";
  const sk = options.sk;
  if (sk !== undefined) {
    names["#gs"] = `gsi${slot}sk`;
    const cond = typeof sk === "string" ? { eq: sk } : sk;
    if ("between" in cond) {
      values[":gs0"] = cond.between[0];
      values[":gs1"] = cond.between[1];
      keyCondition += " AND #gs BETWEEN :gs0 AND :gs1";
    } else if ("beginsWith" in cond) {
      values[":gs0"] = cond.beginsWith;
      keyCondition += " AND begins_with(#gs, :gs0)";
    } else {
      const [op, value] = Object.entries(cond)[0] as [keyof typeof OPS, string];
      const OPS = { eq: "=", lt: "<", lte: "<=", gt: ">", gte: ">=" } as const;
      if (!(op in OPS))
        throw new DynamoTableError("table.invalidOptions", `${what}: invalid \`sk\` condition \`${String(op)}\``);
      values[":gs0"] = value;
      keyCondition += ` AND #gs ${OPS[op]} :gs0`;
    }
  }
  return {
    index: `gsi${slot}`,
    keyCondition,
    names,
    values,
    keyAttributes: ["pk", "sk", `gsi${slot}pk`, `gsi${slot}sk`],
    // A user index may hold several types; keep this one's.
    baseFilter: { expression: "#qt = :qt", names: { "#qt": "gsitype" }, values: { ":qt": resource.type } },
  };
}

/** One page of a user GSI of the resource. */
export function queryItems<T>(
  ctx: TableContext,
  resource: AnyResource,
  gsi: string,
  options: QueryOptions<T>,
): Promise<Page<T>> {
  const what = `query ${resource.type} ${gsi}`;
  return runQuery(ctx, resource, gsiSpec(resource, gsi, options as QueryOptions<unknown>, what), options, what);
}
