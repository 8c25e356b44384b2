import picomatch from "picomatch";

/**
 * One ordered `--exclude` / `--include` rule of `delta cp --recursive` and `delta rm --recursive` (later rules
 * win, as in `aws s3 cp`). `delta sync` does not use these: it takes the sync engine's one dialect
 * (`exclude` / `include`, rclone rules, see `@toolkit/shared`'s README).
 */
export interface SyncFilter {
  type: "exclude" | "include";
  /** A glob on the path relative to the folder (`*.tmp`, `logs/**`); without `/` it also matches base names. */
  pattern: string;
}

/**
 * A predicate over relative paths from ordered rules (everything included unless a rule excludes it; later
 * rules win). Patterns are picomatch globs; one without `/` also matches base names. For `cp -r` / `rm -r`.
 */
export function createPathFilter(options: {
  filters?: SyncFilter[] | undefined;
  exclude?: string[] | undefined;
  include?: string[] | undefined;
}): (path: string) => boolean {
  const rules: SyncFilter[] = [
    ...(options.exclude ?? []).map((pattern) => ({ type: "exclude" as const, pattern })),
    ...(options.include ?? []).map((pattern) => ({ type: "include" as const, pattern })),
    ...(options.filters ?? []),
  ];
  const compiled = rules.map((rule) => ({
    type: rule.type,
    match: picomatch(rule.pattern, { dot: true, basename: !rule.pattern.includes("/") }),
  }));
  return (path) => {
    let included = true;
    for (const rule of compiled) if (rule.match(path)) included = rule.type === "include";
    return included;
  };
}
