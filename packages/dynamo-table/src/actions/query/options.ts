import type { InvalidItem } from "../../codec.ts";
import type { Where } from "../../filter.ts";
import type { SignalOptions } from "../../types.ts";

/** A key condition on a GSI's sort key. */
export type SortKeyCondition =
  | string
  | { eq: string }
  | { lt: string }
  | { lte: string }
  | { gt: string }
  | { gte: string }
  | { beginsWith: string }
  | { between: [string, string] };

export interface ListOptions<T> extends SignalOptions {
  /** Items per page (1..1000). @default 100 */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string | undefined;
  /** By `updatedAt` (list) or by the GSI sort key (query). @default "asc" */
  order?: "asc" | "desc";
  /** A typed filter. Fields inside compressed `data` are filtered after decoding. */
  where?: Where<T> | undefined;
  /** Stop after this many Query requests (an integer >= 1) and return what was found, with a cursor. @default unlimited */
  maxRequests?: number;
  /**
   * Skip stored items that cannot be read (not gzip JSON, or failing the schema) instead of failing the whole
   * page with `table.corruptItem`; they are listed in the page's `invalid` and passed to `onInvalid`.
   * @default false
   */
  skipInvalid?: boolean;
  /** Called for every item `skipInvalid` skips (the way `iterate` reports them). */
  onInvalid?: (invalid: InvalidItem) => void;
}

export interface QueryOptions<T> extends ListOptions<T> {
  /** Partition key value of the index. */
  pk: string;
  /** Condition on the index's sort key; a string means equality. */
  sk?: SortKeyCondition;
}

/** One page of a listing. */
export interface Page<T> {
  items: T[];
  /** Pass to the next call for the next page; absent on the last page. */
  cursor?: string;
  /** Query requests this page took. */
  requests: number;
  /** With `skipInvalid`: the stored items skipped because they cannot be read (an empty list when none). */
  invalid?: InvalidItem[];
}
