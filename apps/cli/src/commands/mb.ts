import { CreateBucketCommand } from "@aws-sdk/client-s3";
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
