import { expect, test } from "vitest";
import { openObjectStore } from "./index.ts";
import { createTestBucket, startS3Server, testClientOptions } from "./testing/index.ts";

test("put/get/list/delete on the S3 test server", async () => {
  const server = await startS3Server();
  const { url } = await createTestBucket(server, "smoke");
  const store = openObjectStore(`${url}pre`, testClientOptions(server));
  await store.put("a b+c.txt", "hello", { metadata: { mtime: "123" }, contentType: "text/plain" });
  const info = await store.head("a b+c.txt");
  expect(info?.metadata).toEqual({ mtime: "123" });
  expect(Buffer.from(await store.getBytes("a b+c.txt")).toString()).toBe("hello");
  await expect(store.put("a b+c.txt", "x", { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "preconditionFailed" });
  const keys = [];
  for await (const e of store.list()) keys.push(e);
  expect(keys).toHaveLength(1);
  await store.close();
});
