import { describe, expect, it } from "vitest";
import { printable } from "./base-command.ts";

describe("printable", () => {
  it("escapes every control character so a key cannot recolour the terminal or forge a line", () => {
    expect(printable("odd/esc\u001b[31mred\u001b[0m.txt")).toBe("odd/esc\\x1b[31mred\\x1b[0m.txt");
    expect(printable("a\nb\tc\rd\u0000e\u007f\u009b")).toBe("a\\nb\\tc\\rd\\x00e\\x7f\\x9b");
    expect(printable("café ✓ back\\slash")).toBe("café ✓ back\\slash");
  });

  it("keepLineBreaks leaves the command's own newlines and tabs, still escaping the rest", () => {
    expect(printable("line 1\n\tline 2 \u001b[2J", { keepLineBreaks: true })).toBe("line 1\n\tline 2 \\x1b[2J");
  });
});
