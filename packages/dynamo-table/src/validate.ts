import { DynamoTableError } from "./errors.ts";
import { type AnyResource, formatZodError } from "./resource.ts";

/** Validate input fields against the resource schema (`table.validation` naming the field). */
export function validateInput(resource: AnyResource, input: unknown, what: string): Record<string, unknown> {
  const result = resource.schema.safeParse(input);
  if (!result.success) {
    throw new DynamoTableError("table.validation", formatZodError(resource, result.error, `in ${what}`), {
      cause: result.error,
    });
  }
  return result.data as Record<string, unknown>;
}

/** The id, or `table.invalidOptions` when it is not a non-empty string of at most 1,024 characters. */
export function assertId(resource: AnyResource, id: unknown, what: string): string {
  if (typeof id !== "string" || id.length === 0 || id.length > 1024) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: invalid id ${JSON.stringify(id)} for ${resource.type}; an id is a non-empty string`,
    );
  }
  return id;
}
