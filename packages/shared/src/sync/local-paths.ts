import path from "node:path";

/** The `node:path` flavour local paths are built with: the platform's own, or `path.win32` / `path.posix` in tests. */
export type PathRules = Pick<typeof path, "join" | "resolve" | "relative" | "isAbsolute" | "sep">;

/**
 * The local path of a relative POSIX path (a scan result, `a/b/c.jpg`) under `root`, with the platform's rules:
 * `C:\Photos` + `2024/a.jpg` → `C:\Photos\2024\a.jpg` on Windows. Keys from a store never come here: they go
 * through `keyToLocalPath`, which refuses what could escape.
 */
export function localPathOf(root: string, relativePosixPath: string, rules: PathRules = path): string {
  return rules.join(root, ...relativePosixPath.split("/"));
}

/** True when `candidate` is strictly inside `root` (not `root` itself, not a sibling such as `root-old`). */
export function isInsideFolder(root: string, candidate: string, rules: PathRules = path): boolean {
  const rel = rules.relative(rules.resolve(root), rules.resolve(candidate));
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${rules.sep}`) && !rules.isAbsolute(rel);
}
