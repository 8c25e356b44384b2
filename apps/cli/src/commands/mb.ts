import { CreateBucketCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { Args } from "@oclif/core";
import { createS3Client } from "@toolkit/shared";
import { BaseCommand } from "../base-command.ts";
import { BucketError, bucketOf, bucketRequestError } from "../topics/bucket.ts";

export default class Mb extends BaseCommand<typeof Mb> {
  static override summary = "Make a bucket";
  static override description =
    "Creates s3://bucket in the region of --region (AWS_REGION, the profile's; us-east-1 with a custom --endpoint-url). A bucket that already exists is an error (exit 1), even when it is yours.";
  static override examples = [
    "<%= config.bin %> mb s3://my-bucket",
    "<%= config.bin %> mb s3://photos --endpoint-url http://localhost:9000",
  ];
  static override args = {
    bucket: Args.string({ description: "s3://bucket", required: true }),
  };

  async run(): Promise<{ bucket: string; created: boolean; region: string }> {
    const bucket = bucketOf(this.args.bucket, "mb");
    const client = createS3Client({ ...this.clientOptions(), logger: this.logger, concurrency: 1 });
    try {
      const region = await client.config.region();
      // us-east-1 answers 200 to CreateBucket of a bucket you already own: ask first, so mb never says
      // "made" for a bucket that was there (and may hold data).
      const head = await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: this.signal }).then(
        () => 200,
        (error: unknown) => {
          if (this.signal.aborted) throw this.signal.reason;
          const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (status === 404 || status === 403) return status;
          throw bucketRequestError(error, "Checking", bucket);
        },
      );
      if (head !== 404) {
        throw new BucketError(
          "bucket.exists",
          `s3://${bucket} already exists${head === 200 ? " (it is yours)" : " (another account owns it)"}; nothing changed.`,
        );
      }
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html: us-east-1 takes no constraint.
      await client
        .send(
          new CreateBucketCommand({
            Bucket: bucket,
            ...(region && region !== "us-east-1"
              ? { CreateBucketConfiguration: { LocationConstraint: region as never } }
              : {}),
          }),
          { abortSignal: this.signal },
        )
        .catch((error: unknown) => {
          const name = (error as { name?: string }).name;
          if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") {
            throw new BucketError(
              "bucket.exists",
              `s3://${bucket} already exists${name === "BucketAlreadyOwnedByYou" ? " (it is yours)" : " (another account owns it)"}; nothing changed.`,
              { cause: error },
            );
          }
          if (this.signal.aborted) throw this.signal.reason;
          throw bucketRequestError(error, "Creating", bucket);
        });
      this.log(`make_bucket: s3://${bucket}`);
      return { bucket, created: true, region };
    } finally {
      client.destroy();
    }
  }
}
