import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import { createS3Client, resolveEndpoint, stripEndpointUserInfo } from "./clients.ts";
import { abortReason, ObjectStoreError } from "./errors.ts";
import { type Location, parseLocation } from "./location.ts";
import type { Logger } from "./logger.ts";
import { cacheDirectory } from "./sync/cache-dir.ts";

/** How an endpoint answered a conditional request whose condition was false. */
export type ConditionalResult =
  /** 412 (or 409 for a concurrent one): the write or delete was not done. Safe. */
  | "honoured"
  /** 2xx: the request was carried out as if the header were absent. Last writer wins. */
  | "ignored"
  /** Anything else (400/501 not implemented, 304 …): the operation is refused or answered oddly. */
  | "other";

/** One conditional check: the result and the HTTP status that showed it. */
export interface ConditionalProbe {
  result: ConditionalResult;
  status: number | null;
  /** The error name, for `other`. */
  error?: string;
}

/** Checksum algorithms of the S3 flexible-checksum headers (`x-amz-checksum-*`). */
export const PROBED_CHECKSUMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const;
export type ChecksumName = (typeof PROBED_CHECKSUMS)[number];

/** Whether a PutObject with this checksum algorithm works, and whether a wrong value is refused. */
export interface ChecksumProbe {
  /** A PutObject with the right checksum succeeded. */
  accepted: boolean;
  /** A PutObject with a wrong checksum was refused (the endpoint checks it); `null` when not accepted at all. */
  verified: boolean | null;
}

/** What {@link probeStore} learnt about an endpoint and bucket. */
export interface StoreProbe {
  /** The endpoint probed (user info removed), or `aws:<region>` for AWS's own. */
  endpoint: string;
  bucket: string;
  /** ISO time of the probe. */
  probedAt: string;
  /** True when the answer came from the cache (at most `maxAgeMs` old). */
  fromCache: boolean;
  putObject: { ifNoneMatch: ConditionalProbe; ifMatch: ConditionalProbe };
  completeMultipartUpload: { ifNoneMatch: ConditionalProbe; ifMatch: ConditionalProbe };
  deleteObject: { ifMatch: ConditionalProbe };
  checksums: Record<ChecksumName, ChecksumProbe>;
  /** `md5OfPartMd5s`: the AWS form, MD5 of the parts' binary MD5s plus `-<parts>`; `other`: something else. */
  multipartEtag: { form: "md5OfPartMd5s" | "other" | "unknown"; sample: string | null };
  /** PutObject honours both `If-None-Match: *` and `If-Match`: compare-and-swap protocols are safe here. */
  conditionalPut: boolean;
  /** CompleteMultipartUpload honours both: large conditional writes need no HEAD-first fallback. */
  conditionalMultipart: boolean;
}

/** Options of {@link probeStore}. */
export interface ProbeStoreOptions {
  /** An S3 client to use; one is created from the other options otherwise (and destroyed after). */
  client?: S3Client;
  /** @default `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` */
  endpoint?: string;
  region?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger?: Logger;
  /** Use and refresh the cached answer. `false` always probes (and still writes the new answer). @default true */
  cache?: boolean;
  /** Where answers are cached. @default cacheDirectory(["probe"]) */
  cacheDir?: string;
  /** A cached answer older than this is probed again, in ms. @default 86400000 (a day) */
  maxAgeMs?: number;
  signal?: AbortSignal;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const WRONG_ETAG = '"00000000000000000000000000000000"';
/** Valid-looking but wrong checksum values (base64 of zero bytes of each digest's length). */
const WRONG_CHECKSUM: Record<ChecksumName, string> = {
  CRC32: "AAAAAA==",
  CRC32C: "AAAAAA==",
  CRC64NVME: "AAAAAAAAAAA=",
  SHA1: Buffer.alloc(20).toString("base64"),
  SHA256: Buffer.alloc(32).toString("base64"),
};
const CHECKSUM_FIELD = {
  CRC32: "ChecksumCRC32",
  CRC32C: "ChecksumCRC32C",
  CRC64NVME: "ChecksumCRC64NVME",
  SHA1: "ChecksumSHA1",
  SHA256: "ChecksumSHA256",
} as const satisfies Record<ChecksumName, keyof PutObjectCommandInput>;

const conditionalSchema = z.object({
  result: z.enum(["honoured", "ignored", "other"]),
  status: z.number().int().nullable(),
  error: z.string().optional(),
});
const probeSchema = z.object({
  endpoint: z.string(),
  bucket: z.string(),
  probedAt: z.string(),
  fromCache: z.boolean(),
  putObject: z.object({ ifNoneMatch: conditionalSchema, ifMatch: conditionalSchema }),
  completeMultipartUpload: z.object({ ifNoneMatch: conditionalSchema, ifMatch: conditionalSchema }),
  deleteObject: z.object({ ifMatch: conditionalSchema }),
  checksums: z.record(z.enum(PROBED_CHECKSUMS), z.object({ accepted: z.boolean(), verified: z.boolean().nullable() })),
  multipartEtag: z.object({ form: z.enum(["md5OfPartMd5s", "other", "unknown"]), sample: z.string().nullable() }),
  conditionalPut: z.boolean(),
  conditionalMultipart: z.boolean(),
});

const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? null;

/** Classify a conditional request whose condition was false: `send` resolves on 2xx, rejects otherwise. */
async function conditional(send: () => Promise<unknown>, signal?: AbortSignal): Promise<ConditionalProbe> {
  try {
    await send();
    return { result: "ignored", status: 200 };
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    const status = statusOf(error);
    const name = (error as { name?: string }).name ?? "Error";
    if (status === 412 || status === 409 || name === "PreconditionFailed") return { result: "honoured", status };
    return { result: "other", status, error: name };
  }
}

/** Where the answer for an endpoint and bucket is cached. */
function cachePath(cacheDir: string, endpoint: string, bucket: string): string {
  return join(cacheDir, `${createHash("sha256").update(`${endpoint}\n${bucket}`).digest("hex").slice(0, 32)}.json`);
}

/** A cached answer, parsed (the cache is a file anyone could edit), when younger than `maxAgeMs`. */
async function readCachedWith<S extends z.ZodType<{ probedAt: string }>>(
  schema: S,
  path: string,
  maxAgeMs: number,
): Promise<z.output<S> | undefined> {
  try {
    const parsed = schema.safeParse(JSON.parse(await readFile(path, "utf8")));
    if (!parsed.success) return undefined;
    const age = Date.now() - Date.parse(parsed.data.probedAt);
    return age >= 0 && age < maxAgeMs ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function readCached(path: string, maxAgeMs: number): Promise<StoreProbe | undefined> {
  const cached = await readCachedWith(probeSchema, path, maxAgeMs);
  return cached ? { ...(cached as StoreProbe), fromCache: true } : undefined;
}

async function writeCachedWith(path: string, probe: { fromCache: boolean }): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, JSON.stringify({ ...probe, fromCache: false }));
  await rename(tmp, path);
}

const writeCached = (path: string, probe: StoreProbe) => writeCachedWith(path, probe);

/**
 * Learn what an S3-compatible endpoint honours, with a few requests on a probe key under the location's prefix
 * (`<prefix>.s3kit/probe/<uuid>`, removed afterwards): `If-None-Match: *` and `If-Match` on PutObject and on
 * CompleteMultipartUpload, `If-Match` on DeleteObject, the flexible checksums it accepts (and whether it checks
 * them), and its multipart ETag form. About 20 requests; the answer is cached per endpoint and bucket for a day
 * in the cache directory (`cache: false` probes again).
 * @throws ObjectStoreError `invalidLocation` for a `file://` location (it honours conditional writes by
 * construction), or the mapped error of a request that failed outright (no access, no bucket).
 */
export async function probeStore(location: string | Location, options: ProbeStoreOptions = {}): Promise<StoreProbe> {
  return withProbeClient(location, options, "probeStore", async ({ client, bucket, prefix, endpoint, path }) => {
    if (options.cache !== false) {
      const cached = await readCached(path, options.maxAgeMs ?? DAY_MS);
      if (cached) return cached;
    }
    const probe = await runProbe(client, bucket, prefix, endpoint, options.signal);
    try {
      await writeCached(path, probe);
    } catch (error) {
      options.logger?.warn("probeStore: could not cache the answer", { error: String(error) });
    }
    return probe;
  });
}

/** What {@link probeConditionalPut} learnt: only the two PutObject conditions. */
export interface ConditionalPutProbe {
  endpoint: string;
  bucket: string;
  probedAt: string;
  fromCache: boolean;
  ifNoneMatch: ConditionalProbe;
  ifMatch: ConditionalProbe;
  /** Both honoured: compare-and-swap on PutObject is safe here. */
  honoured: boolean;
}

const putProbeSchema = z.object({
  endpoint: z.string(),
  bucket: z.string(),
  probedAt: z.string(),
  fromCache: z.boolean(),
  ifNoneMatch: conditionalSchema,
  ifMatch: conditionalSchema,
  honoured: z.boolean(),
});

/**
 * The cheap part of {@link probeStore}, for a writer about to rely on compare-and-swap (kv-store's push):
 * whether PutObject honours `If-None-Match: *` and `If-Match`, with four requests on a probe key (three PUTs and
 * a DELETE). Uses a fresh cached full probe when there is one; caches its own answer for a day as well.
 */
export async function probeConditionalPut(
  location: string | Location,
  options: ProbeStoreOptions = {},
): Promise<ConditionalPutProbe> {
  return withProbeClient(
    location,
    options,
    "probeConditionalPut",
    async ({ client, bucket, prefix, endpoint, path }) => {
      const maxAgeMs = options.maxAgeMs ?? DAY_MS;
      const quickPath = path.replace(/\.json$/, ".put.json");
      if (options.cache !== false) {
        const full = await readCached(path, maxAgeMs);
        if (full) {
          const { ifNoneMatch, ifMatch } = full.putObject;
          return {
            endpoint,
            bucket,
            probedAt: full.probedAt,
            fromCache: true,
            ifNoneMatch,
            ifMatch,
            honoured: full.conditionalPut,
          };
        }
        const quick = await readCachedWith(putProbeSchema, quickPath, maxAgeMs);
        if (quick) return { ...quick, fromCache: true };
      }
      const key = `${prefix}.s3kit/probe/${randomUUID()}`;
      const send = (command: unknown) =>
        client.send(command as never, options.signal ? { abortSignal: options.signal } : {});
      let probe: ConditionalPutProbe;
      try {
        const { ifNoneMatch, ifMatch } = await probePutConditions(send, bucket, key, options.signal);
        probe = {
          endpoint,
          bucket,
          probedAt: new Date().toISOString(),
          fromCache: false,
          ifNoneMatch,
          ifMatch,
          honoured: ifNoneMatch.result === "honoured" && ifMatch.result === "honoured",
        };
      } finally {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
      }
      try {
        await writeCachedWith(quickPath, probe);
      } catch (error) {
        options.logger?.warn("probeConditionalPut: could not cache the answer", { error: String(error) });
      }
      return probe;
    },
  );
}

/** PutObject over an existing key with `If-None-Match: *`, then with a wrong `If-Match`. Leaves `key` behind. */
async function probePutConditions(
  send: (command: unknown) => Promise<unknown>,
  bucket: string,
  key: string,
  signal: AbortSignal | undefined,
): Promise<{ ifNoneMatch: ConditionalProbe; ifMatch: ConditionalProbe }> {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html — If-None-Match: * and If-Match.
  await send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "s3kit probe 1\n" }));
  const ifNoneMatch = await conditional(
    () => send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "s3kit probe 2\n", IfNoneMatch: "*" })),
    signal,
  );
  const ifMatch = await conditional(
    () => send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "s3kit probe 3\n", IfMatch: WRONG_ETAG })),
    signal,
  );
  return { ifNoneMatch, ifMatch };
}

interface ProbeTarget {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** User info removed, or `aws:<region>`. */
  endpoint: string;
  /** The full probe's cache file for this endpoint and bucket. */
  path: string;
}

async function withProbeClient<T>(
  location: string | Location,
  options: ProbeStoreOptions,
  fn: string,
  run: (target: ProbeTarget) => Promise<T>,
): Promise<T> {
  const parsed = typeof location === "string" ? parseLocation(location) : location;
  if (parsed.kind !== "s3") {
    throw new ObjectStoreError(
      "invalidLocation",
      `${fn} needs an s3:// location; a file:// store honours conditional writes by construction (lock files).`,
    );
  }
  const client =
    options.client ??
    createS3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      maxAttempts: 3,
      concurrency: 2,
    });
  try {
    const rawEndpoint = resolveEndpoint("S3", options.endpoint);
    const endpoint = rawEndpoint
      ? stripEndpointUserInfo(rawEndpoint).endpoint
      : `aws:${options.region ?? (await client.config.region())}`;
    const path = cachePath(options.cacheDir ?? cacheDirectory(["probe"]), endpoint, parsed.bucket);
    return await run({ client, bucket: parsed.bucket, prefix: parsed.prefix, endpoint, path });
  } finally {
    if (!options.client) client.destroy();
  }
}

async function runProbe(
  client: S3Client,
  bucket: string,
  prefix: string,
  endpoint: string,
  signal: AbortSignal | undefined,
): Promise<StoreProbe> {
  const key = `${prefix}.s3kit/probe/${randomUUID()}`;
  const checksumKey = `${key}-checksum`;
  const send = <T>(command: unknown) =>
    client.send(command as never, signal ? { abortSignal: signal } : {}) as Promise<T>;
  const openUploads: string[] = [];
  const partBody = Buffer.from("s3kit probe part\n");

  /** A one-part multipart upload on `key`, completed with `condition`; its ETag when it completed. */
  async function multipart(condition: { IfNoneMatch?: string; IfMatch?: string }) {
    const created = await send<{ UploadId?: string }>(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const uploadId = created.UploadId!;
    openUploads.push(uploadId);
    const part = await send<{ ETag?: string }>(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: partBody }),
    );
    let etag: string | undefined;
    const probe = await conditional(async () => {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html — 412 when the
      // condition fails; some emulators (moto) ignore the headers here and complete anyway.
      const out = await send<{ ETag?: string }>(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
          ...condition,
        }),
      );
      etag = out.ETag;
    }, signal);
    if (etag !== undefined) openUploads.splice(openUploads.indexOf(uploadId), 1);
    return { probe, etag };
  }

  try {
    const { ifNoneMatch: putIfNoneMatch, ifMatch: putIfMatch } = await probePutConditions(send, bucket, key, signal);
    const completeIfNoneMatch = await multipart({ IfNoneMatch: "*" });
    const completeIfMatch = await multipart({ IfMatch: WRONG_ETAG });
    let multipartEtag = completeIfNoneMatch.etag ?? completeIfMatch.etag;
    if (multipartEtag === undefined) multipartEtag = (await multipart({})).etag;
    const partMd5 = createHash("md5").update(partBody).digest();
    const awsForm = `"${createHash("md5").update(partMd5).digest("hex")}-1"`;

    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html — If-Match on general purpose buckets.
    await send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "s3kit probe delete\n" }));
    const deleteIfMatch = await conditional(
      () => send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: WRONG_ETAG })),
      signal,
    );

    const checksums = {} as Record<ChecksumName, ChecksumProbe>;
    for (const algorithm of PROBED_CHECKSUMS) {
      let accepted = false;
      let verified: boolean | null = null;
      try {
        await send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: checksumKey,
            Body: "s3kit checksum probe\n",
            ChecksumAlgorithm: algorithm,
          }),
        );
        accepted = true;
      } catch {
        if (signal?.aborted) throw abortReason(signal);
      }
      if (accepted) {
        const wrong = await conditional(
          () =>
            send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: checksumKey,
                Body: "s3kit checksum probe\n",
                [CHECKSUM_FIELD[algorithm]]: WRONG_CHECKSUM[algorithm],
              }),
            ),
          signal,
        );
        verified = wrong.result !== "ignored";
      }
      checksums[algorithm] = { accepted, verified };
    }

    const ifNoneMatch = putIfNoneMatch;
    return {
      endpoint,
      bucket,
      probedAt: new Date().toISOString(),
      fromCache: false,
      putObject: { ifNoneMatch, ifMatch: putIfMatch },
      completeMultipartUpload: { ifNoneMatch: completeIfNoneMatch.probe, ifMatch: completeIfMatch.probe },
      deleteObject: { ifMatch: deleteIfMatch },
      checksums,
      multipartEtag: {
        form: multipartEtag === undefined ? "unknown" : multipartEtag === awsForm ? "md5OfPartMd5s" : "other",
        sample: multipartEtag ?? null,
      },
      conditionalPut: ifNoneMatch.result === "honoured" && putIfMatch.result === "honoured",
      conditionalMultipart:
        completeIfNoneMatch.probe.result === "honoured" && completeIfMatch.probe.result === "honoured",
    };
  } finally {
    // Best effort, and never under the caller's (possibly aborted) signal: leave nothing behind.
    for (const uploadId of openUploads) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => {});
    }
    for (const k of [key, checksumKey]) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })).catch(() => {});
    }
  }
}
