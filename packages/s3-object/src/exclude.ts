import picomatch from "picomatch";

/**
 * A predicate over relative, `/`-separated paths (object keys below a prefix, files below a directory).
 * Patterns are globs (picomatch, dot files included). A pattern without `/` matches a path segment by name
 * (`node_modules`, `*.tmp`); a pattern that matches a directory excludes everything below it. Patterns are
 * never applied to the part of a path above the synced root, so a root inside `~/.cache` is fine.
 */
export function createExcluder(patterns: readonly string[] = []): (relativePath: string) => boolean {
  if (patterns.length === 0) return () => false;
  const matchers = patterns.map((p) => picomatch(p.replace(/\/+$/, ""), { dot: true, basename: !p.includes("/") }));
  return (relativePath) => {
    const segments = relativePath.split("/");
    for (let i = 1; i <= segments.length; i++) {
      const prefix = segments.slice(0, i).join("/");
      if (matchers.some((m) => m(prefix))) return true;
    }
    return false;
  };
}
