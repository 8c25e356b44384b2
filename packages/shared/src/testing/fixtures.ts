import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
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

/**
 * One unmeasured 24 MiB multipart upload (then deleted), for benchmarks: the first large upload a fresh moto serves
 * costs it far more CPU than the same upload later (measured 8–11 s against 3.5–7 s of server CPU for 24 × 24 MiB),
 * which would be charged to whichever tool a bench runs first.
 */
export async function warmUpS3Server(server: TestServer): Promise<void> {
  const { bucket, client } = await createTestBucket(server, "warm-up");
  const body = Buffer.alloc(8 * 1024 * 1024, 1);
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "warm.bin" }));
  const parts = [];
  for (let PartNumber = 1; PartNumber <= 3; PartNumber++) {
    const { ETag } = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: "warm.bin", UploadId, PartNumber, Body: body }),
    );
    parts.push({ ETag, PartNumber });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: "warm.bin",
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "warm.bin" }));
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  client.destroy();
}
