import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatProgressLine, ProgressBar } from "./progress-bar.ts";

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [10 * 1024 * 1024, "10.0 MiB"],
    [500 * 1024 ** 3, "500 GiB"],
  ])("%i → %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe("formatProgressLine", () => {
  it("shows the rate and the ETA once enough time has passed", () => {
    const p = { loadedBytes: 2 * 1024 * 1024, totalBytes: 8 * 1024 * 1024 };
    expect(formatProgressLine(p, 120, 2000)).toContain("1.0 MiB/s ETA 0:06");
    expect(formatProgressLine(p, 120, 100)).not.toContain("/s");
    expect(formatProgressLine({ loadedBytes: 1024 }, 120, 1000)).toBe("1.0 KiB | 1.0 KiB/s");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Number.NaN)).toBe("--:--");
  });

  it("shows a bar and bytes when the byte total is known", () => {
    const line = formatProgressLine({ loadedBytes: 512, totalBytes: 1024, completedItems: 1, totalItems: 4 });
    expect(line).toBe(`[${"=".repeat(12)}${" ".repeat(12)}] 50% | 512 B/1.0 KiB | 1/4 items`);
  });

  it("falls back to items, then to a byte count", () => {
    expect(formatProgressLine({ loadedBytes: 0, completedItems: 3, totalItems: 4 })).toMatch(
      /^\[=+ +\] 75% \| 3\/4 items$/,
    );
    expect(formatProgressLine({ loadedBytes: 2048 })).toBe("2.0 KiB");
  });

  it("shortens the current item from the left to fit the terminal", () => {
    const line = formatProgressLine({ loadedBytes: 1, current: `photos/${"x".repeat(200)}.jpg` }, 60);
    expect(line.length).toBeLessThanOrEqual(60);
    expect(line).toMatch(/ \| …x+\.jpg$/);
  });
});

describe("ProgressBar", () => {
  it("writes nothing when disabled", () => {
    let written = "";
    const stream = {
      write: (chunk: string) => {
        written += chunk;
        return true;
      },
      isTTY: false,
    } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar({ enabled: false, stream });
    bar.callback({ loadedBytes: 10, totalBytes: 100 });
    bar.stop();
    expect(written).toBe("");
  });
});
