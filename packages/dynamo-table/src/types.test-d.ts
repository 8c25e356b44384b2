// Type promises, checked by `tsc --noEmit` in this package's `typecheck` script.
import { expectTypeOf } from "vitest";
import { z } from "zod";
import { createRepository, createTable, defineResource, defineSingleton, type ItemOf, type Table } from "./index.ts";

const Note = defineResource({
  type: "Note",
  schema: z.object({ title: z.string(), ownerId: z.string(), status: z.enum(["open", "done"]) }),
  versioned: true,
  maxVersions: 20,
  gsis: { byOwner: { pk: (n) => `owner#${n.ownerId}`, sk: (n) => n.updatedAt } },
});
const Tag = defineResource({ type: "Tag", schema: z.object({ name: z.string() }) });

type NoteItem = ItemOf<typeof Note>;
expectTypeOf<NoteItem["id" | "createdAt" | "updatedAt" | "title" | "ownerId"]>().toEqualTypeOf<string>();
expectTypeOf<NoteItem["version"]>().toEqualTypeOf<number>();
expectTypeOf<NoteItem["status"]>().toEqualTypeOf<"open" | "done">();
expectTypeOf<ItemOf<typeof Tag>>().not.toHaveProperty("version");
expectTypeOf<ItemOf<typeof Tag>>().toHaveProperty("name").toEqualTypeOf<string>();

declare const table: Table;
async function usage() {
  const note = await table.create(Note, { title: "a", ownerId: "u1", status: "open" });
  expectTypeOf(note.version).toEqualTypeOf<number>();
  expectTypeOf(await table.get(Note, note.id)).toEqualTypeOf<NoteItem | undefined>();
  await table.update(Note, note, { status: "done" });
  // @ts-expect-error: not a status
  await table.update(Note, note, { status: "closed" });
  // @ts-expect-error: missing required fields
  await table.create(Note, { title: "a" });
  await table.query(Note, "byOwner", { pk: "owner#u1", sk: { beginsWith: "2026-" } });
  // @ts-expect-error: no such GSI
  await table.query(Note, "byNothing", { pk: "x" });
  await table.list(Note, { where: (f) => f.eq("status", "open") });
  // @ts-expect-error: not a field
  await table.list(Note, { where: (f) => f.eq("nope", "open") });
  // @ts-expect-error: wrong value type for the field
  await table.list(Note, { where: (f) => f.eq("status", "closed") });
  for await (const n of table.iterate(Note, { where: (f) => f.eq("ownerId", "u1") })) {
    expectTypeOf(n).toEqualTypeOf<NoteItem>();
  }
  const page = await table.query(Note, "byOwner", { pk: "owner#u1", where: (f) => f.eq("status", "done") });
  expectTypeOf(page.items).toEqualTypeOf<NoteItem[]>();
  expectTypeOf(page.cursor).toEqualTypeOf<string | undefined>();
  expectTypeOf(await table.versions(Note, note.id)).toEqualTypeOf<NoteItem[]>();
  await table.transaction((tx) => {
    expectTypeOf(tx.create(Tag, { name: "t" })).toEqualTypeOf<ItemOf<typeof Tag>>();
    // @ts-expect-error: not a status, inside a transaction too
    tx.update(Note, note, { status: "closed" });
    // @ts-expect-error: a Tag is not a Note
    tx.update(Note, { id: "x", createdAt: "a", updatedAt: "b", name: "t" }, {});
  });
  const { result } = await table.transaction(
    (tx) => [tx.create(Tag, { name: "t" }), tx.update(Note, note, {})] as const,
  );
  expectTypeOf(result).toEqualTypeOf<readonly [ItemOf<typeof Tag>, NoteItem]>();
  expectTypeOf(await table.batchGet(Tag, ["a", "b"])).toEqualTypeOf<Map<string, ItemOf<typeof Tag>>>();
  const Counter = defineResource({
    type: "Counter",
    schema: z.object({ n: z.number(), byDay: z.record(z.string(), z.number()), tags: z.set(z.string()) }),
  });
  expectTypeOf(await table.patch(Counter, "c", { set: { n: 1 }, add: { "byDay.mon": 1 } })).toEqualTypeOf<
    ItemOf<typeof Counter>
  >();
  // @ts-expect-error: wrong value type for the field
  await table.patch(Counter, "c", { set: { n: "one" } });
  expectTypeOf(await table.increment(Counter, "c", "byDay.mon", 2)).toEqualTypeOf<number>();
  await table.addToSet(Counter, "c", "tags", ["a"]);
  // @ts-expect-error: not a field
  await table.increment(Counter, "c", "nope");
  const repo = createRepository(table, Note);
  expectTypeOf(await repo.getOrThrow("x")).toEqualTypeOf<NoteItem>();
  const Settings = defineSingleton({ type: "Settings", schema: z.object({ theme: z.string() }) });
  expectTypeOf(await table.getSingleton(Settings)).toEqualTypeOf<ItemOf<typeof Settings> | undefined>();
}
void usage;
void createTable;
