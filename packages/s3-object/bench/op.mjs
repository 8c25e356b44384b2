// One S3File operation in its own process, so CPU time and peak RSS belong to it alone.
// usage: node op.mjs <download|upload> <s3-url> <localPath> <cacheDir> <endpoint> <resultFile>
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; the result (JSON) is written to <resultFile>.
import { writeFileSync } from "node:fs";
import { S3File } from "@toolkit/s3-object";

const [op, url, localPath, cacheDir, endpoint, resultFile] = process.argv.slice(2);
const file = new S3File(url, {
  localPath,
  cacheDir,
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  partConcurrency: Number(process.env.PART_CONCURRENCY ?? 8),
});
const result = op === "download" ? await file.download() : await file.upload({ force: process.env.FORCE === "1" });
await file.close();
writeFileSync(resultFile, `${JSON.stringify({ transferred: result.transferred, bytes: result.bytes })}\n`);
