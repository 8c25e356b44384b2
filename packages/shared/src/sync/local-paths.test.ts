import { posix, win32 } from "node:path";
import { describe, expect, test } from "vitest";
import { isInsideFolder, localPathOf } from "./local-paths.ts";

describe("local paths, with POSIX and Windows rules", () => {
  test("a scanned relative path becomes a path under the folder", () => {
    expect(localPathOf("/photos", "2024/Summer/a.jpg", posix)).toBe("/photos/2024/Summer/a.jpg");
    expect(localPathOf("C:\\Users\\ana\\Pictures", "2024/Summer/a.jpg", win32)).toBe(
      "C:\\Users\\ana\\Pictures\\2024\\Summer\\a.jpg",
    );
    expect(localPathOf("\\\\nas\\photos", "a.jpg", win32)).toBe("\\\\nas\\photos\\a.jpg");
  });

  test("inside means strictly below the folder: never the folder, its parent or a sibling with a longer name", () => {
    expect(isInsideFolder("/photos", "/photos/a.jpg", posix)).toBe(true);
    expect(isInsideFolder("/photos", "/photos", posix)).toBe(false);
    expect(isInsideFolder("/photos", "/photos-old/a.jpg", posix)).toBe(false);
    expect(isInsideFolder("/photos", "/photos/../etc/passwd", posix)).toBe(false);
    expect(isInsideFolder("C:\\Photos", "C:\\Photos\\2024\\a.jpg", win32)).toBe(true);
    expect(isInsideFolder("C:\\Photos", "C:\\Photos Old\\a.jpg", win32)).toBe(false);
    expect(isInsideFolder("C:\\Photos", "D:\\Photos\\a.jpg", win32)).toBe(false);
    expect(isInsideFolder("C:\\Photos", "C:\\Photos\\..\\Windows\\x", win32)).toBe(false);
  });
});
