import { homedir } from "node:os";
import { posix, win32 } from "node:path";

/** Options of {@link cacheDirectory}; all default to the running process (tests pass others). */
export interface CacheDirectoryOptions {
  /** @default process.platform */
  platform?: NodeJS.Platform;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** @default os.homedir() */
  home?: string;
}

/**
 * The one cache directory of s3kit, by each platform's convention:
 * - Linux and other Unixes: `$XDG_CACHE_HOME/s3kit`, else `~/.cache/s3kit`;
 * - macOS: `~/Library/Caches/s3kit`;
 * - Windows: `%LOCALAPPDATA%\s3kit\Cache`, else `~\AppData\Local\s3kit\Cache`.
 * Paths are built with the platform's own `node:path` rules (`path.win32` for Windows).
 * @param parts sub-folders, e.g. `cacheDirectory(["sync-state"])`.
 */
export function cacheDirectory(parts: readonly string[] = [], options: CacheDirectoryOptions = {}): string {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  if (platform === "win32") {
    const base = env.LOCALAPPDATA || win32.join(home, "AppData", "Local");
    return win32.join(base, "s3kit", "Cache", ...parts);
  }
  if (platform === "darwin") return posix.join(home, "Library", "Caches", "s3kit", ...parts);
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && posix.isAbsolute(xdg) ? xdg : posix.join(home, ".cache");
  return posix.join(base, "s3kit", ...parts);
}
