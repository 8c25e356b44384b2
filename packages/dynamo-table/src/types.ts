import type { z } from "zod";
import type { Item, ItemInput } from "./resource.ts";

/** The item type of a resource definition. */
export type ItemOf<R> = R extends {
  readonly schema: infer S extends z.ZodObject;
  readonly versioned: infer V extends boolean;
}
  ? Item<S, V>
  : never;
/** The input type of a resource definition's `create`. */
export type InputOf<R> = R extends { readonly schema: infer S extends z.ZodObject } ? ItemInput<S> : never;
/** The fields an `update` may change. Set a field to `undefined` to remove it. */
export type PatchOf<R> = Partial<InputOf<R>>;
/** A field of an item's own schema, or `field.key` for one key of a map field. */
export type FieldPath<T> =
  | Extract<keyof Omit<T, "id" | "createdAt" | "updatedAt" | "version">, string>
  | `${string}.${string}`;
/** The GSI names of a resource definition. */
export type GsiNameOf<R> = R extends { readonly gsis: infer G } ? Extract<keyof G, string> : never;

export interface SignalOptions {
  signal?: AbortSignal;
}
