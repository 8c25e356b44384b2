import { startDynamoDbServer, startS3Server, type TestServer } from "../packages/shared/src/testing/servers.ts";

// Start each server once for the whole run; test files reach them through the env override that
// startS3Server()/startDynamoDbServer() read first, so every file shares them and stops nothing.
export default async function setup(): Promise<() => Promise<void>> {
  const started: TestServer[] = [];
  const [s3, dynamo] = await Promise.all([startS3Server(), startDynamoDbServer()]);
  started.push(s3, dynamo);
  process.env.S3KIT_TEST_S3_ENDPOINT = s3.endpoint;
  process.env.S3KIT_TEST_DYNAMODB_ENDPOINT = dynamo.endpoint;
  process.env.AWS_ACCESS_KEY_ID ??= s3.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= s3.credentials.secretAccessKey;
  process.env.AWS_REGION ??= s3.region;
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
}
