// One upload run in its own process (so its CPU time and peak RSS are its own): every file of a folder through
// the sync engine's `uploadFile`, `CONCURRENCY` files at once, with the given multipart threshold.
// usage: node put-files.mjs <dir> <s3-url> <endpoint> <multipartThresholdBytes> [partSizeBytes]
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { forEachConcurrent, openObjectStore, uploadFile } from "@toolkit/shared";

const [dir, url, endpoint, threshold, partSize = String(8 * 1024 * 1024)] = process.argv.slice(2);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const store = openObjectStore(url, {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  concurrency,
});
const names = readdirSync(dir);
await forEachConcurrent(names, concurrency, async (name) => {
  await uploadFile(store, name, join(dir, name), {
    multipartThresholdBytes: Number(threshold),
    partSizeBytes: Number(partSize),
    partConcurrency: 4,
    contentType: "application/octet-stream",
  });
});
await store.close();
