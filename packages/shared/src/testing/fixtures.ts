import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../clients.ts";
import type { TestServer } from "./servers.ts";
import { uniqueName } from "./servers.ts";

/** Client options for a test server: its endpoint, region and static credentials. */
export function testClientOptions(
  server: Pick<TestServer, "endpoint" | "credentials" | "region">,
  endpoint = server.endpoint,
) {
  return { endpoint, region: server.region, credentials: server.credentials };
}

/** Create a fresh bucket on the server; returns its name, an `s3://` URL and a client for it. */
export async function createTestBucket(
  server: TestServer,
  tag = "test",
): Promise<{ bucket: string; url: string; client: S3Client }> {
  const bucket = uniqueName(tag);
  const client = createS3Client({ ...testClientOptions(server), maxAttempts: 3 });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { bucket, url: `s3://${bucket}/`, client };
}
