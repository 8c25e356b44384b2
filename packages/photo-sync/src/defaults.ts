/**
 * Excluded by default: what a Lightroom library holds that is either rebuilt by Lightroom (previews,
 * smart previews), only valid while Lightroom runs (the SQLite WAL/SHM/journal and lock files), or
 * operating-system litter. A restore applies them too, so `--delete` never removes previews Lightroom
 * rebuilt in the restored folder.
 */
export const DEFAULT_EXCLUDES: readonly string[] = Object.freeze([
  "*.lrdata/**",
  "*.lrcat-wal",
  "*.lrcat-shm",
  "*.lrcat-journal",
  "*.lock",
  ".DS_Store",
  "Thumbs.db",
]);
