import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { Args, Flags } from "@oclif/core";
import { createS3Client } from "@toolkit/shared";
import { BaseCommand } from "../base-command.ts";
import { BucketError, bucketOf, bucketRequestError } from "../topics/bucket.ts";

export default class Rb extends BaseCommand<typeof Rb> {
  static override summary = "Remove a bucket (refuses a non-empty one unless --force)";
  static override description =
    "Removes s3://bucket when it holds no object. A bucket with objects is refused (exit 1, nothing deleted) unless --force, which first deletes every object in it (1,000 per request), then the bucket.";
  static override examples = ["<%= config.bin %> rb s3://my-bucket", "<%= config.bin %> rb s3://scratch --force"];
  static override args = {
    bucket: Args.string({ description: "s3://bucket", required: true }),
  };
  static override flags = {
    force: Flags.boolean({ description: "Delete every object in the bucket first, then the bucket" }),
  };

  async run(): Promise<{ bucket: string; removed: boolean; deletedObjects: number }> {
    const bucket = bucketOf(this.args.bucket, "rb");
    const client = createS3Client({ ...this.clientOptions(), logger: this.logger, concurrency: 1 });
    const send = async <T>(action: string, call: () => Promise<T>): Promise<T> => {
      try {
        return await call();
      } catch (error) {
        if (this.signal.aborted) throw this.signal.reason;
        throw bucketRequestError(error, action, bucket);
      }
    };
    const abortSignal = this.signal;
    let deletedObjects = 0;
    try {
      let token: string | undefined;
      do {
        const page = await send("Listing", () =>
          client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              MaxKeys: 1000,
              ...(token ? { ContinuationToken: token } : {}),
            }),
            { abortSignal },
          ),
        );
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key !== undefined ? [{ Key: o.Key }] : []));
        if (keys.length > 0 && !this.flags.force) {
          const count = page.IsTruncated ? "more than 1,000 objects" : `${keys.length} object(s)`;
          throw new BucketError(
            "bucket.notEmpty",
            `s3://${bucket} is not empty (${count}); nothing was deleted. Pass --force to delete every object and the bucket.`,
          );
        }
        if (keys.length > 0) {
          const out = await send("Emptying", () =>
            client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }), {
              abortSignal,
            }),
          );
          const failed = out.Errors ?? [];
          deletedObjects += keys.length - failed.length;
          if (failed.length > 0) {
            throw new BucketError(
              "bucket.request",
              `s3://${bucket}: ${failed.length} object(s) could not be deleted (first: ${failed[0]?.Key ?? "?"}: ${failed[0]?.Code ?? "error"}); the bucket stays.`,
            );
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await send("Removing", () => client.send(new DeleteBucketCommand({ Bucket: bucket }), { abortSignal })).catch(
        (error: unknown) => {
          const cause = (error as { cause?: { name?: string } }).cause;
          if (cause?.name === "BucketNotEmpty") {
            throw new BucketError(
              "bucket.notEmpty",
              `s3://${bucket} still holds object versions or delete markers (a versioned bucket); delete them (e.g. in the console or with aws s3api), then run rb again.`,
              { cause: error },
            );
          }
          throw error;
        },
      );
      if (deletedObjects > 0) this.note(`deleted ${deletedObjects} object(s)`);
      this.log(`remove_bucket: s3://${bucket}`);
      return { bucket, removed: true, deletedObjects };
    } finally {
      client.destroy();
    }
  }
}
