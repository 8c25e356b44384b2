// Client CPU per small PUT, in process, against moto (its own process, so its CPU is not counted): how much of a
// small file's upload is the AWS SDK's per-request work (issue 15 (a)). Variants, interleaved over 5 rounds,
// median reported:
//   raw    — an S3Client with the SDK's own middleware (what createS3Client built before its trim)
//   sdk    — createS3Client (trimmed middleware: one user agent built per client, no logger, no Lambda step)
//   store  — openObjectStore(…).put, what the sync engine calls per small file
//   lean   — reference only: SigV4 from @smithy/signature-v4 and node:http, no SDK middleware at all
// usage: node bench/put-overhead.mjs [count=600] [variants=raw,sdk,store,lean]
import { createHash, createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import { createRequire } from "node:module";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createS3Client, forEachConcurrent, openObjectStore } from "@toolkit/shared";
import { createTestBucket, startS3Server, testClientOptions } from "@toolkit/shared/testing";

const count = Number(process.argv[2] ?? 600);
const variants = (process.argv[3] ?? "raw,sdk,store,lean").split(",");
const server = await startS3Server();
const options = testClientOptions(server);
const { bucket } = await createTestBucket(server);
const body = randomBytes(64 * 1024);
const sha256 = createHash("sha256").update(body).digest("hex");
const put = (client, key) =>
  client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      Metadata: { mtime: "1" },
    }),
  );

/** @smithy/signature-v4 as the SDK resolves it (not a dependency of this package). */
function loadSignatureV4() {
  const fromS3 = createRequire(createRequire(import.meta.url).resolve("@aws-sdk/client-s3"));
  const fromSigner = createRequire(fromS3.resolve("@aws-sdk/signature-v4-multi-region"));
  return fromSigner("@smithy/signature-v4").SignatureV4;
}
class NodeHash {
  constructor(secret) {
    this.hash = secret ? createHmac("sha256", secret) : createHash("sha256");
  }
  update(data) {
    this.hash.update(data);
  }
  async digest() {
    return this.hash.digest();
  }
}

const runs = {
  async raw(ctx, i) {
    ctx.client ??= new S3Client({
      ...options,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 5,
      retryMode: "adaptive",
      requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 16 }) }),
    });
    await put(ctx.client, `raw/f${i}`);
  },
  async sdk(ctx, i) {
    ctx.client ??= createS3Client({ ...options, concurrency: 16 });
    await put(ctx.client, `sdk/f${i}`);
  },
  async store(ctx, i) {
    ctx.store ??= openObjectStore(`s3://${bucket}/store/`, { ...options, concurrency: 16 });
    await ctx.store.put(`f${i}`, body, { metadata: { mtime: "1", "s3kit-sha256": sha256 } });
  },
  async lean(ctx, i) {
    if (!ctx.signer) {
      const SignatureV4 = loadSignatureV4();
      ctx.signer = new SignatureV4({
        service: "s3",
        region: options.region,
        credentials: options.credentials,
        sha256: NodeHash,
        uriEscapePath: false,
        applyChecksum: false,
      });
      ctx.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      ctx.url = new URL(server.endpoint);
    }
    const path = `/${bucket}/lean/f${i}`;
    const headers = {
      host: ctx.url.host,
      "content-length": String(body.length),
      "x-amz-meta-mtime": "1",
      "x-amz-content-sha256": sha256,
    };
    const signed = await ctx.signer.sign({
      method: "PUT",
      protocol: "http:",
      hostname: ctx.url.hostname,
      port: Number(ctx.url.port),
      path,
      query: {},
      headers,
    });
    await new Promise((resolve, reject) => {
      const request = http.request(
        { agent: ctx.agent, method: "PUT", host: ctx.url.hostname, port: ctx.url.port, path, headers: signed.headers },
        (response) => {
          response.resume();
          response.on("end", () =>
            response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`)),
          );
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  },
};

const results = {};
for (let round = 1; round <= 5; round++) {
  for (const variant of variants) {
    const ctx = {};
    await forEachConcurrent([...Array(50).keys()], 16, (i) => runs[variant](ctx, i)); // connections, caches
    const before = process.cpuUsage();
    await forEachConcurrent([...Array(count).keys()], 16, (i) => runs[variant](ctx, i));
    const cpu = process.cpuUsage(before);
    results[variant] = [...(results[variant] ?? []), (cpu.user + cpu.system) / 1000 / count];
  }
}
console.log(`| variant | client CPU per 64 KiB PUT (median of 5 × ${count}) |\n|---|---:|`);
for (const [variant, values] of Object.entries(results)) {
  const median = values.sort((a, b) => a - b)[2];
  console.log(`| ${variant} | ${median.toFixed(3)} ms |`);
}
await server.stop();
