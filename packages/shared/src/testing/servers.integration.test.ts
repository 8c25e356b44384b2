import { Agent, request as httpRequest } from "node:http";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { expect, test } from "vitest";
import { createDynamoDbClient, createS3Client } from "../clients.ts";
import { startFaultProxy } from "./fault-proxy.ts";
import { testClientOptions } from "./fixtures.ts";
import { startDynamoDbServer, startS3Server } from "./servers.ts";

test("the run's servers come from the environment override and answer", async () => {
  const s3 = await startS3Server();
  const dynamo = await startDynamoDbServer();
  expect(s3.source).toBe("env");
  expect(dynamo.source).toBe("env");
  const client = createDynamoDbClient(testClientOptions(dynamo));
  expect((await client.send(new ListTablesCommand({}))).TableNames).toBeInstanceOf(Array);
  client.destroy();
});

test("without the override and without a container runtime, a local moto server starts on 127.0.0.1", async () => {
  const saved = process.env.S3KIT_TEST_S3_ENDPOINT;
  delete process.env.S3KIT_TEST_S3_ENDPOINT;
  try {
    const server = await startS3Server();
    expect(server.source === "process" || server.source === "container").toBe(true);
    if (server.source === "process") expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createS3Client(testClientOptions(server));
    expect((await client.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
    client.destroy();
    await server.stop();
    await server.stop();
  } finally {
    process.env.S3KIT_TEST_S3_ENDPOINT = saved;
  }
});

test("keepClientConnections: the proxy keeps a client's socket across requests although moto closes each one", async () => {
  const s3 = await startS3Server();
  const sockets = async (keepClientConnections: boolean) => {
    const proxy = await startFaultProxy({ target: s3.endpoint, keepClientConnections });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const seen = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest(`${proxy.endpoint}/`, { agent }, (response) => {
          response.resume();
          response.on("end", () => resolve());
        });
        request.on("socket", (socket) => seen.add(socket));
        request.on("error", reject);
        request.end();
      });
    }
    agent.destroy();
    await proxy.stop();
    return { count: seen.size, requests: proxy.requests.length };
  };
  expect(await sockets(false)).toEqual({ count: 3, requests: 3 });
  expect(await sockets(true)).toEqual({ count: 1, requests: 3 });
});
