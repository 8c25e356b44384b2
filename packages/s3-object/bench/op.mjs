// One S3File operation in its own process, so CPU time and peak RSS belong to it alone.
// usage: node op.mjs <download|upload> <s3-url> <localPath> <cacheDir> <endpoint>
import { S3File } from "@toolkit/s3-object";

const [op, url, localPath, cacheDir, endpoint] = process.argv.slice(2);
const file = new S3File(url, {
  localPath,
  cacheDir,
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "s3kit-test", secretAccessKey: "s3kit-test-secret" },
  partConcurrency: Number(process.env.PART_CONCURRENCY ?? 8),
});
const started = performance.now();
const result = op === "download" ? await file.download() : await file.upload({ force: process.env.FORCE === "1" });
const wallMs = performance.now() - started;
await file.close();
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ transferred: result.transferred, bytes: result.bytes, wallMs, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, maxRssMiB: usage.maxRSS / 1024 })}\n`,
);
