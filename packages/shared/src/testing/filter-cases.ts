/**
 * One table of include/exclude cases: every sync command (photo-sync backup and restore, object sync-up and
 * sync-down, delta sync) must select exactly `selected` from `files` for the same `exclude` and `include`,
 * because they all run on the one filter dialect of the shared sync engine. The shared README's table of
 * examples is this table.
 */
export interface FilterCase {
  name: string;
  exclude: string[];
  include: string[];
  /** Relative paths (POSIX) present at the source. */
  files: string[];
  /** The ones that take part. */
  selected: string[];
}

const TREE = [
  "a.jpg",
  "a.tmp",
  "a.tmp.jpg",
  "notes.zip",
  "cache/f.tmp",
  "cache/sub/g.tmp",
  "x/cache/f.tmp",
  "x/y/b.tmp",
  "Exports/e.jpg",
  "2024/Exports/e.jpg",
  "2024/raw/r.dng",
  "Cat Previews.lrdata/p/q.lrprev",
  "Café/c.jpg",
  ".hidden",
  "UPPER.JPG",
];

const all = (drop: string[]) => TREE.filter((f) => !drop.includes(f));

/** The cases, each over the same tree. */
export const FILTER_CASES: readonly FilterCase[] = Object.freeze([
  { name: "no filters: everything", exclude: [], include: [], files: TREE, selected: TREE },
  {
    name: "a pattern without / matches at any depth",
    exclude: ["*.tmp"],
    include: [],
    files: TREE,
    selected: all(["a.tmp", "cache/f.tmp", "cache/sub/g.tmp", "x/cache/f.tmp", "x/y/b.tmp"]),
  },
  {
    name: "a pattern with a folder also matches at any depth; * stays within one name",
    exclude: ["cache/*.tmp"],
    include: [],
    files: TREE,
    selected: all(["cache/f.tmp", "x/cache/f.tmp"]),
  },
  {
    name: "a leading / anchors at the root",
    exclude: ["/cache/*.tmp"],
    include: [],
    files: TREE,
    selected: all(["cache/f.tmp"]),
  },
  {
    name: "** crosses folders",
    exclude: ["/cache/**"],
    include: [],
    files: TREE,
    selected: all(["cache/f.tmp", "cache/sub/g.tmp"]),
  },
  {
    name: "a folder pattern prunes the folder",
    exclude: ["*.lrdata"],
    include: [],
    files: TREE,
    selected: all(["Cat Previews.lrdata/p/q.lrprev"]),
  },
  {
    name: "anchored folder vs the same name deeper",
    exclude: ["/Exports/**"],
    include: [],
    files: TREE,
    selected: all(["Exports/e.jpg"]),
  },
  {
    name: "an include alone drops every other file",
    exclude: [],
    include: ["*.zip"],
    files: TREE,
    selected: ["notes.zip"],
  },
  {
    name: "excludes win over includes",
    exclude: ["/Exports/**"],
    include: ["*.jpg"],
    files: TREE,
    selected: ["a.jpg", "a.tmp.jpg", "2024/Exports/e.jpg", "Café/c.jpg"],
  },
  {
    name: "matching is case-sensitive; * matches dot files",
    exclude: ["*.jpg", ".*"],
    include: [],
    files: TREE,
    selected: all(["a.jpg", "a.tmp.jpg", "Exports/e.jpg", "2024/Exports/e.jpg", "Café/c.jpg", ".hidden"]),
  },
  {
    name: "patterns and names compare NFC-normalised",
    exclude: ["Cafe\u0301/**"],
    include: [],
    files: TREE,
    selected: all(["Café/c.jpg"]),
  },
]);
