import type { Progress, ProgressCallback } from "@toolkit/shared";
import cliProgress from "cli-progress";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** `75` → `1:15`, `3725` → `1:02:05`; unknown → `--:--`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

const BAR_WIDTH = 24;
/** Below this much elapsed time a rate is noise; none is shown. */
const MIN_RATE_ELAPSED_MS = 500;

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${"=".repeat(filled)}${" ".repeat(BAR_WIDTH - filled)}]`;
}

/**
 * One line describing `p`: a bar when a total is known, counts always, the transfer rate and ETA when
 * `elapsedMs` is given, the current item last.
 */
export function formatProgressLine(p: Progress, columns = 80, elapsedMs?: number): string {
  const parts: string[] = [];
  if (p.totalBytes !== undefined && p.totalBytes > 0) {
    const fraction = p.loadedBytes / p.totalBytes;
    parts.push(
      `${bar(fraction)} ${Math.floor(fraction * 100)}%`,
      `${formatBytes(p.loadedBytes)}/${formatBytes(p.totalBytes)}`,
    );
  } else if (p.totalItems !== undefined && p.totalItems > 0) {
    const fraction = (p.completedItems ?? 0) / p.totalItems;
    parts.push(`${bar(fraction)} ${Math.floor(fraction * 100)}%`);
    if (p.loadedBytes > 0) parts.push(formatBytes(p.loadedBytes));
  } else if (p.loadedBytes > 0) {
    parts.push(formatBytes(p.loadedBytes));
  }
  if (p.completedItems !== undefined || p.totalItems !== undefined) {
    parts.push(`${p.completedItems ?? 0}${p.totalItems !== undefined ? `/${p.totalItems}` : ""} items`);
  }
  if (elapsedMs !== undefined && elapsedMs >= MIN_RATE_ELAPSED_MS && p.loadedBytes > 0) {
    const rate = p.loadedBytes / (elapsedMs / 1000);
    const eta = p.totalBytes !== undefined ? (p.totalBytes - p.loadedBytes) / rate : Number.NaN;
    parts.push(`${formatBytes(Math.round(rate))}/s${p.totalBytes !== undefined ? ` ETA ${formatDuration(eta)}` : ""}`);
  }
  let line = parts.join(" | ");
  if (p.current) {
    const room = columns - line.length - 4;
    if (room > 8) {
      const current = p.current.length > room ? `…${p.current.slice(-(room - 1))}` : p.current;
      line += ` | ${current}`;
    }
  }
  return line;
}

/**
 * Renders {@link Progress} callbacks as a one-line bar on a terminal (cli-progress, throttled, cursor restored),
 * or does nothing when disabled (a pipe, `--json`, `--quiet`).
 */
export class ProgressBar {
  #bar: cliProgress.SingleBar | undefined;
  #last: Progress = { loadedBytes: 0 };
  #startedAt = 0;
  readonly #stream: NodeJS.WriteStream;
  readonly enabled: boolean;

  constructor(options: { enabled: boolean; stream?: NodeJS.WriteStream }) {
    this.enabled = options.enabled;
    this.#stream = options.stream ?? process.stderr;
  }

  /** The callback to hand to a library: cheap, never throws. */
  readonly callback: ProgressCallback = (progress) => {
    if (!this.enabled) return;
    try {
      this.#last = progress;
      if (!this.#bar) {
        this.#startedAt = performance.now();
        this.#bar = new cliProgress.SingleBar({
          stream: this.#stream,
          format: () => formatProgressLine(this.#last, this.#stream.columns || 80, performance.now() - this.#startedAt),
          hideCursor: true,
          clearOnComplete: true,
          linewrap: false,
          fps: 10,
        });
        this.#bar.start(1, 0);
      }
      this.#bar.update(0);
    } catch {
      // A progress display must never break the work it reports on.
    }
  };

  /** Remove the bar from the terminal (idempotent). */
  stop(): void {
    const bar = this.#bar;
    this.#bar = undefined;
    try {
      bar?.stop();
    } catch {
      // ignore: the terminal may be gone
    }
  }
}
