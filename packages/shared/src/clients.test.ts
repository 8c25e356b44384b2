import { afterEach, describe, expect, test } from "vitest";
import { createDynamoDbClient, createS3Client, resolveEndpoint } from "./clients.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("createS3Client", () => {
  test("a custom endpoint gets path-style addressing and WHEN_REQUIRED checksums", async () => {
    const client = createS3Client({ endpoint: "http://127.0.0.1:9000", region: "eu-west-1" });
    expect(client.config.forcePathStyle).toBe(true);
    expect(await client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
    expect(await client.config.region()).toBe("eu-west-1");
    client.destroy();
  });

  test("endpoint resolution: option, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL", () => {
    process.env.AWS_ENDPOINT_URL = "http://127.0.0.1:1";
    expect(resolveEndpoint("S3")).toBe("http://127.0.0.1:1");
    process.env.AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:2";
    expect(resolveEndpoint("S3")).toBe("http://127.0.0.1:2");
    expect(resolveEndpoint("DYNAMODB")).toBe("http://127.0.0.1:1");
    expect(resolveEndpoint("S3", "http://127.0.0.1:3")).toBe("http://127.0.0.1:3");
  });

  test.each([
    [{ endpoint: "not a url" }, /`endpoint` \("not a url"\)/],
    [{ region: "Europe West" }, /`region` \("Europe West"\)/],
    [{ concurrency: 0 }, /`concurrency` \(0\)/],
    [{ maxAttempts: 1.5 }, /`maxAttempts` \(1.5\)/],
    [{ bogus: true }, /bogus/],
  ])("bad option %j names the option and the value", (options, message) => {
    expect(() => createS3Client(options as never)).toThrow(message);
    expect(() => createDynamoDbClient(options as never)).toThrow(message);
  });

  test("a bad credentials option never echoes the secret", () => {
    let message = "";
    try {
      createS3Client({ credentials: { accessKeyId: "AKIA", secretAccessKey: 42 } } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/credentials/);
    expect(message).toContain("<redacted>");
    expect(message).not.toContain("AKIA");
  });
});
