import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, test } from "vitest";
import {
  createDynamoDbClient,
  createS3Client,
  redactUrlUserInfo,
  resolveEndpoint,
  stripEndpointUserInfo,
} from "./clients.ts";

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

  /** Sends `count` requests that stop after signing; their headers as they would have been sent. */
  async function sentHeaders(client: ReturnType<typeof createS3Client>, count: number) {
    const sent: Record<string, string>[] = [];
    client.middlewareStack.add(
      () => async (args) => {
        sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
        throw new Error("not sent");
      },
      { step: "finalizeRequest", priority: "low" },
    );
    for (let i = 0; i < count; i++) await client.send(new HeadBucketCommand({ Bucket: "b" })).catch(() => {});
    return sent;
  }

  test("trimmed per-request middleware: one user agent built once, no logger or Lambda-only recursion step", async () => {
    const options = { endpoint: "http://127.0.0.1:9", region: "eu-west-1", maxAttempts: 1 };
    const client = createS3Client({ ...options, credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    const names = client.middlewareStack.identify().join(",");
    expect(names).not.toMatch(/loggerMiddleware|recursionDetectionMiddleware|getUserAgentMiddleware/);
    const sent = await sentHeaders(client, 2);
    expect(sent).toHaveLength(2);
    for (const headers of sent) {
      expect(headers["user-agent"]).toMatch(/^s3kit aws-sdk-js\/\S+ .*lang\/js/);
      expect(headers["x-amz-user-agent"]).toMatch(/^aws-sdk-js\/\S+$/);
      expect(headers.authorization).toMatch(/SignedHeaders=.*x-amz-user-agent/);
    }
    client.destroy();
    process.env.AWS_LAMBDA_FUNCTION_NAME = "fn";
    const inLambda = createS3Client({ ...options });
    expect(inLambda.middlewareStack.identify().join(",")).toMatch(/recursionDetectionMiddleware/);
    inLambda.destroy();
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

describe("URL user info", () => {
  test("redactUrlUserInfo hides user and password of every URL in a text", () => {
    expect(redactUrlUserInfo("GET http://user:secret@host:9000/b and https://tok@x.example/p?q=a@b")).toBe(
      "GET http://***@host:9000/b and https://***@x.example/p?q=a@b",
    );
    expect(redactUrlUserInfo('{"value":"http://u:p%40ss@127.0.0.1:1"}')).toBe('{"value":"http://***@127.0.0.1:1"}');
    expect(redactUrlUserInfo("mail me@example.com at http://host/")).toBe("mail me@example.com at http://host/");
  });

  test("a client never gets the user info of its endpoint, and the logger is told without the secret", async () => {
    expect(stripEndpointUserInfo("http://u:secret@127.0.0.1:9000")).toEqual({
      endpoint: "http://127.0.0.1:9000",
      hadUserInfo: true,
    });
    expect(stripEndpointUserInfo("http://127.0.0.1:9000/")).toEqual({
      endpoint: "http://127.0.0.1:9000/",
      hadUserInfo: false,
    });
    const warnings: string[] = [];
    const noop = () => {};
    const logger = { debug: noop, info: noop, error: noop, warn: (m: string) => warnings.push(m) };
    const client = createS3Client({ endpoint: "http://u:secret@127.0.0.1:9000", region: "us-east-1", logger });
    const endpoint = await client.config.endpoint!();
    expect(endpoint.hostname).toBe("127.0.0.1");
    expect(JSON.stringify(endpoint)).not.toContain("secret");
    expect(warnings).toEqual([expect.stringContaining("carries user info")]);
    expect(warnings.join()).not.toContain("secret");
    client.destroy();
  });
});
