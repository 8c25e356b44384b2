import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { Args, Flags } from "@oclif/core";
import { describeEngines } from "@toolkit/delta-store";
import {
  type ConditionalProbe,
  createS3Client,
  formatLocation,
  PROBED_CHECKSUMS,
  parseLocation,
  probeStore,
  redactUrlUserInfo,
  resolveEndpoint,
  type StoreProbe,
  stripEndpointUserInfo,
} from "@toolkit/shared";
import { BaseCommand, ExitCode } from "../base-command.ts";

const PROBE_TIMEOUT_MS = 5_000;
const MIN_NODE = [22, 12] as const;

/** A value and where it came from (a flag, an environment variable, a file, a default). */
export interface Resolved {
  value: string | null;
  source: string;
}

export interface DoctorReport {
  ok: boolean;
  /** One line per check that failed, saying what to do. */
  problems: string[];
  /** Things that work, with a caveat worth knowing (e.g. a HEAD-first fallback for conditional multipart writes). */
  warnings: string[];
  cli: { version: string };
  node: { version: string; supported: boolean; required: string };
  profile: Resolved;
  region: Resolved;
  endpoints: { s3: Resolved; dynamodb: Resolved };
  credentials: {
    resolved: boolean;
    /** The provider the SDK's default chain took them from (never the secret). */
    source: string | null;
    /** Last four characters only, e.g. `****WXYZ`. */
    accessKeyId: string | null;
    sessionToken: boolean;
    expiration: string | null;
    error: string | null;
  };
  s3: {
    endpoint: string;
    /** The endpoint answered HTTP at all. */
    reachable: boolean;
    status: number | null;
    /** ListBuckets with the resolved credentials. */
    listBuckets: "ok" | "accessDenied" | "failed" | "skipped";
    buckets: number | null;
    error: string | null;
  };
  deltaEngines: {
    xdelta3Binary: { available: boolean; path: string | null; version: string | null };
    xdelta3Wasm: { available: boolean; version: string | null; error: string | null };
    zstd: { available: boolean; dictionary: boolean };
    /** What delta-store's `engine: "auto"` uses here (from `describeEngines()`). */
    auto: { small: string; large: string; summary: string } | null;
  };
  /** With a location argument: what the endpoint honours there (`probeStore`). */
  store: { location: string; probe: StoreProbe | null; error: string | null } | null;
}

// Feature ids the SDK's default chain stamps on resolved credentials (`$source`), as readable names.
const CREDENTIAL_SOURCES: Record<string, string> = {
  CREDENTIALS_CODE: "static credentials in code",
  CREDENTIALS_ENV_VARS: "environment variables (AWS_ACCESS_KEY_ID)",
  CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
  CREDENTIALS_STS_ASSUME_ROLE: "assumed role",
  CREDENTIALS_STS_ASSUME_ROLE_SAML: "assumed role (SAML)",
  CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: "assumed role (web identity)",
  CREDENTIALS_STS_FEDERATION_TOKEN: "federation token",
  CREDENTIALS_HTTP: "container credentials endpoint",
  CREDENTIALS_IMDS: "EC2 instance metadata (IMDS)",
  CREDENTIALS_PROFILE: "shared config/credentials file profile",
  CREDENTIALS_PROFILE_SOURCE_PROFILE: "profile (source_profile)",
  CREDENTIALS_PROFILE_NAMED_PROVIDER: "profile (credential_source)",
  CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN: "profile (web identity token)",
  CREDENTIALS_PROFILE_SSO: "profile (SSO)",
  CREDENTIALS_SSO: "SSO",
  CREDENTIALS_PROFILE_SSO_LEGACY: "profile (legacy SSO)",
  CREDENTIALS_SSO_LEGACY: "SSO (legacy)",
  CREDENTIALS_PROFILE_PROCESS: "profile (credential_process)",
  CREDENTIALS_PROCESS: "credential_process",
  CREDENTIALS_PROFILE_LOGIN: "profile (aws login)",
};

/** `AKIAIOSFODNN7EXAMPLE` → `****MPLE`: enough to tell keys apart, useless to anyone else. */
export function maskAccessKeyId(id: string): string {
  return id.length <= 4 ? "****" : `****${id.slice(-4)}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorLine(error: unknown): string {
  const e = error as { name?: string; message?: string };
  const message = (e?.message ?? String(error)).split("\n")[0] ?? "";
  return e?.name && e.name !== "Error" && !message.includes(e.name) ? `${e.name}: ${message}` : message;
}

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary =
    "Check the set-up: region, endpoint, credentials, reachability, delta engines; with s3://bucket/prefix, what the store honours";
  static override description = [
    `Shows which profile, region, endpoints and credentials resolve, and from where (flags, environment, config files, defaults); whether the S3 endpoint answers (an HTTP HEAD, then a ListBuckets, each with a ${PROBE_TIMEOUT_MS / 1000} s timeout); the Node version; and which delta engines delta-store can use (the xdelta3 binary, the xdelta3-wasm package, zstd in node:zlib).`,
    "With s3://bucket/prefix, also probes the store with a few requests on a key under .s3kit/probe/ (removed afterwards): whether PutObject, CompleteMultipartUpload and DeleteObject honour If-None-Match / If-Match, which checksums it accepts and checks, and its multipart ETag form. The answer is cached per endpoint and bucket for a day (--no-cache probes again). A store that ignores conditional PutObject is a problem: kv push refuses to push there unless --single-writer.",
    "Secrets are never printed: only the credential provider and the last four characters of the access key id; user info in an endpoint URL shows as ***@. Exits 1 when a check fails.",
  ].join("\n\n");
  static override args = {
    location: Args.string({
      description: "s3://bucket/prefix to probe: which conditional writes and checksums the endpoint honours there",
      required: false,
    }),
  };
  static override flags = {
    cache: Flags.boolean({
      description: "Use the probe answer cached for this endpoint and bucket (a day); --no-cache probes again",
      default: true,
      allowNo: true,
    }),
  };
  static override examples = [
    "<%= config.bin %> doctor",
    "<%= config.bin %> doctor s3://my-bucket/backups --json",
    "<%= config.bin %> doctor s3://my-bucket/ --endpoint-url http://127.0.0.1:9000 --no-cache",
    "<%= config.bin %> doctor --endpoint-url http://127.0.0.1:9000 --json",
    "<%= config.bin %> doctor --profile backup --region eu-west-1",
  ];

  async run(): Promise<DoctorReport> {
    const options = this.clientOptions();
    const problems: string[] = [];
    const warnings: string[] = [];
    // Parse the location first: a typo is a usage error before any network call.
    const location = this.args.location === undefined ? undefined : parseLocation(this.args.location);

    const nodeVersion = process.versions.node;
    const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
    const nodeSupported = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
    if (!nodeSupported) problems.push(`Node ${nodeVersion} is too old: install Node 24 LTS (>= 22.12 works).`);

    const profile: Resolved = options.profile
      ? { value: options.profile, source: "--profile" }
      : process.env.AWS_PROFILE
        ? { value: process.env.AWS_PROFILE, source: "AWS_PROFILE" }
        : { value: "default", source: "default" };

    const s3Endpoint = this.resolveEndpoint("S3", options.endpoint);
    const dynamoEndpoint = this.resolveEndpoint("DYNAMODB", options.endpoint);
    const userInfoSources = new Set([s3Endpoint, dynamoEndpoint].filter((e) => e.userInfo).map((e) => e.source));
    for (const source of userInfoSources) {
      problems.push(
        `The endpoint URL from ${source} carries user info (shown as ***@): S3 and DynamoDB ignore it, and a secret there ends up in shell history and process lists; remove it and use a profile or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.`,
      );
    }

    const client = createS3Client({ ...options, logger: this.logger, concurrency: 2, maxAttempts: 1 });
    try {
      const region = await this.resolveRegion(options.region, s3Endpoint.value, client.config.region);
      if (region.value === null) {
        problems.push("No region resolves: pass --region, set AWS_REGION, or set `region` in the profile.");
      }
      const credentials = await this.resolveCredentials(client.config.credentials);
      if (!credentials.resolved) {
        problems.push(
          `No credentials resolve (${credentials.error}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ` +
            "pass --profile, or run `aws configure` / `aws sso login`.",
        );
      }
      // Probed without user info (fetch refuses it, echoing the whole URL); shown redacted.
      const endpointUrl = s3Endpoint.value
        ? stripEndpointUserInfo(s3Endpoint.value).endpoint
        : `https://s3.${region.value ?? "us-east-1"}.amazonaws.com`;
      const s3 = await this.probeS3(client, endpointUrl, credentials.resolved);
      if (!s3.reachable) problems.push(`The S3 endpoint ${endpointUrl} does not answer (${s3.error}).`);
      else if (s3.listBuckets === "accessDenied") {
        problems.push(`The S3 endpoint ${endpointUrl} refuses the credentials (${s3.error}).`);
      }
      const deltaEngines = await this.deltaEngines();
      const store = location ? await this.probe(location, credentials.resolved, problems, warnings) : null;

      const report: DoctorReport = {
        ok: problems.length === 0,
        problems,
        warnings,
        cli: { version: this.config.version },
        node: { version: nodeVersion, supported: nodeSupported, required: `>=${MIN_NODE.join(".")}` },
        profile,
        region,
        endpoints: { s3: s3Endpoint, dynamodb: dynamoEndpoint },
        credentials,
        s3,
        deltaEngines,
        store,
      };
      this.printReport(report);
      if (!report.ok) this.exitCode = ExitCode.failure;
      return report;
    } finally {
      client.destroy();
    }
  }

  /** The endpoint and its source; user info is stripped (`userInfo` says there was some) and never shown. */
  private resolveEndpoint(service: "S3" | "DYNAMODB", explicit: string | undefined): Resolved & { userInfo?: true } {
    const raw = resolveEndpoint(service, explicit);
    if (raw === undefined) return { value: null, source: "AWS default" };
    const { endpoint: value, hadUserInfo } = stripEndpointUserInfo(raw);
    const source =
      explicit !== undefined
        ? "--endpoint-url"
        : process.env[`AWS_ENDPOINT_URL_${service}`]
          ? `AWS_ENDPOINT_URL_${service}`
          : "AWS_ENDPOINT_URL";
    return {
      value: hadUserInfo ? redactUrlUserInfo(raw) : value,
      source,
      ...(hadUserInfo ? { userInfo: true as const } : {}),
    };
  }

  private async resolveRegion(
    explicit: string | undefined,
    endpoint: string | null,
    provider: () => Promise<string>,
  ): Promise<Resolved> {
    // The same order as createS3Client, then the SDK's own (the profile's `region`).
    if (explicit) return { value: explicit, source: "--region" };
    if (process.env.AWS_REGION) return { value: process.env.AWS_REGION, source: "AWS_REGION" };
    if (process.env.AWS_DEFAULT_REGION) return { value: process.env.AWS_DEFAULT_REGION, source: "AWS_DEFAULT_REGION" };
    if (endpoint) return { value: "us-east-1", source: "default for a custom endpoint" };
    try {
      return { value: await withTimeout(provider(), PROBE_TIMEOUT_MS, "region provider"), source: "profile config" };
    } catch {
      return { value: null, source: "unresolved" };
    }
  }

  private async resolveCredentials(
    provider: () => Promise<{ accessKeyId: string; sessionToken?: string; expiration?: Date }>,
  ): Promise<DoctorReport["credentials"]> {
    try {
      const creds = await withTimeout(provider(), PROBE_TIMEOUT_MS, "credential provider chain");
      const features = Object.keys((creds as { $source?: Record<string, string> }).$source ?? {});
      const names = features.map((f) => CREDENTIAL_SOURCES[f] ?? f);
      return {
        resolved: true,
        source: names.length > 0 ? names.join(", ") : "default provider chain",
        accessKeyId: creds.accessKeyId ? maskAccessKeyId(creds.accessKeyId) : null,
        sessionToken: Boolean(creds.sessionToken),
        expiration: creds.expiration ? creds.expiration.toISOString() : null,
        error: null,
      };
    } catch (error) {
      return {
        resolved: false,
        source: null,
        accessKeyId: null,
        sessionToken: false,
        expiration: null,
        error: errorLine(error),
      };
    }
  }

  private async probeS3(
    client: ReturnType<typeof createS3Client>,
    endpoint: string,
    haveCredentials: boolean,
  ): Promise<DoctorReport["s3"]> {
    const result: DoctorReport["s3"] = {
      endpoint,
      reachable: false,
      status: null,
      listBuckets: "skipped",
      buckets: null,
      error: null,
    };
    // Any HTTP answer (even 403/405) proves the endpoint is there; only a network failure does not.
    try {
      const signal = AbortSignal.any([this.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
      const response = await fetch(endpoint, { method: "HEAD", signal, redirect: "manual" });
      result.reachable = true;
      result.status = response.status;
    } catch (error) {
      this.signal.throwIfAborted();
      result.error = errorLine((error as { cause?: unknown }).cause ?? error);
      return result;
    }
    if (!haveCredentials) return result;
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html
      const signal = AbortSignal.any([this.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
      const out = await client.send(new ListBucketsCommand({}), { abortSignal: signal });
      result.listBuckets = "ok";
      result.buckets = out.Buckets?.length ?? 0;
    } catch (error) {
      this.signal.throwIfAborted();
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      result.listBuckets = status === 403 ? "accessDenied" : "failed";
      result.error = errorLine(error);
    }
    return result;
  }

  /** Probe the location's endpoint; a store that ignores conditional PutObject is a problem (multi-writer data loss). */
  private async probe(
    location: ReturnType<typeof parseLocation>,
    haveCredentials: boolean,
    problems: string[],
    warnings: string[],
  ): Promise<NonNullable<DoctorReport["store"]>> {
    const url = formatLocation(location);
    if (location.kind !== "s3") {
      return { location: url, probe: null, error: "a file:// store honours conditional writes by construction" };
    }
    if (!haveCredentials) return { location: url, probe: null, error: "skipped: no credentials" };
    try {
      const probe = await probeStore(location, {
        ...this.clientOptions(),
        logger: this.logger,
        cache: this.flags.cache,
        signal: this.signal,
      });
      if (!probe.conditionalPut) {
        problems.push(
          `${probe.endpoint} ignores conditional PutObject (If-None-Match: ${probe.putObject.ifNoneMatch.result}, If-Match: ${probe.putObject.ifMatch.result}): two writers can overwrite each other. kv push refuses to push there (kv.unsafeStore) unless you declare a single writer (--single-writer).`,
        );
      }
      if (!probe.conditionalMultipart) {
        warnings.push(
          `${probe.endpoint} does not honour conditional CompleteMultipartUpload (If-None-Match: ${probe.completeMultipartUpload.ifNoneMatch.result}, If-Match: ${probe.completeMultipartUpload.ifMatch.result}): large conditional writes check with a HEAD first, which leaves a short race window.`,
        );
      }
      return { location: url, probe, error: null };
    } catch (error) {
      this.signal.throwIfAborted();
      const line = errorLine(error);
      problems.push(`Probing ${url} failed (${line}).`);
      return { location: url, probe: null, error: line };
    }
  }

  private async deltaEngines(): Promise<DoctorReport["deltaEngines"]> {
    const [xdelta3Binary, xdelta3Wasm, described] = await Promise.all([
      findXdelta3Binary(this.signal),
      loadXdelta3Wasm(),
      describeEngines().catch(() => undefined),
    ]);
    const zstd = typeof zlib.zstdCompressSync === "function";
    let dictionary = false;
    if (zstd) {
      try {
        const dict = Buffer.from("s3kit doctor dictionary probe");
        const packed = zlib.zstdCompressSync(Buffer.from("s3kit doctor"), { dictionary: dict } as zlib.ZstdOptions);
        dictionary =
          zlib.zstdDecompressSync(packed, { dictionary: dict } as zlib.ZstdOptions).toString() === "s3kit doctor";
      } catch {
        dictionary = false;
      }
    }
    return {
      xdelta3Binary,
      xdelta3Wasm,
      zstd: { available: zstd, dictionary },
      auto: described
        ? { small: described.auto.small, large: described.auto.large, summary: described.auto.summary }
        : null,
    };
  }

  private printReport(r: DoctorReport): void {
    const rows: [string, string][] = [
      ["s3kit", r.cli.version],
      ["node", `${r.node.version} (${r.node.supported ? "ok" : "too old"}, needs ${r.node.required})`],
      ["profile", `${r.profile.value} (${r.profile.source})`],
      [
        "region",
        r.region.value
          ? `${r.region.value} (${r.region.source})`
          : "none set: pass --region, set AWS_REGION, or set `region` in the profile",
      ],
      [
        "s3 endpoint",
        r.endpoints.s3.value
          ? `${r.endpoints.s3.value} (${r.endpoints.s3.source})`
          : r.region.value
            ? `${r.s3.endpoint} (AWS, from the region)`
            : `AWS, per region (none set: probed ${r.s3.endpoint})`,
      ],
      [
        "dynamodb endpoint",
        r.endpoints.dynamodb.value
          ? `${r.endpoints.dynamodb.value} (${r.endpoints.dynamodb.source})`
          : r.region.value
            ? `https://dynamodb.${r.region.value}.amazonaws.com (AWS, from the region)`
            : "AWS, per region (none set)",
      ],
      [
        "credentials",
        r.credentials.resolved
          ? `${r.credentials.source}, key ${r.credentials.accessKeyId}${r.credentials.sessionToken ? ", with session token" : ""}${r.credentials.expiration ? `, expires ${r.credentials.expiration}` : ""}`
          : `none (${r.credentials.error})`,
      ],
      [
        "s3 answers",
        r.s3.reachable
          ? `yes (HTTP ${r.s3.status})${r.s3.listBuckets === "ok" ? `, ListBuckets ok: ${r.s3.buckets} buckets` : r.s3.listBuckets === "skipped" ? "" : `, ListBuckets ${r.s3.listBuckets}: ${r.s3.error}`}`
          : `no (${r.s3.error})`,
      ],
      [
        "xdelta3 binary",
        r.deltaEngines.xdelta3Binary.available
          ? `${r.deltaEngines.xdelta3Binary.version ?? "yes"} (${r.deltaEngines.xdelta3Binary.path})`
          : "not on PATH (apt install xdelta3)",
      ],
      [
        "xdelta3-wasm",
        r.deltaEngines.xdelta3Wasm.available
          ? `loadable${r.deltaEngines.xdelta3Wasm.version ? ` (${r.deltaEngines.xdelta3Wasm.version})` : ""}`
          : `not loadable (${r.deltaEngines.xdelta3Wasm.error})`,
      ],
      [
        "zstd (node:zlib)",
        r.deltaEngines.zstd.available
          ? `yes${r.deltaEngines.zstd.dictionary ? ", with dictionaries" : ", no dictionary support"}`
          : "no (needs Node >= 23.8)",
      ],
    ];
    if (r.deltaEngines.auto) rows.push(["delta engines", r.deltaEngines.auto.summary]);
    if (r.store) {
      rows.push(["store", r.store.location]);
      const p = r.store.probe;
      if (!p) rows.push(["  probe", r.store.error ?? "not probed"]);
      else {
        const cond = (c: ConditionalProbe) =>
          `${c.result}${c.status !== null ? ` (HTTP ${c.status}${c.error ? ` ${c.error}` : ""})` : ""}`;
        rows.push(
          ["  probed", `${p.probedAt}${p.fromCache ? " (cached; --no-cache probes again)" : ""} at ${p.endpoint}`],
          ["  PutObject If-None-Match: *", cond(p.putObject.ifNoneMatch)],
          ["  PutObject If-Match", cond(p.putObject.ifMatch)],
          ["  CompleteMultipartUpload If-None-Match: *", cond(p.completeMultipartUpload.ifNoneMatch)],
          ["  CompleteMultipartUpload If-Match", cond(p.completeMultipartUpload.ifMatch)],
          ["  DeleteObject If-Match", cond(p.deleteObject.ifMatch)],
          [
            "  checksums",
            PROBED_CHECKSUMS.map((name) => {
              const c = p.checksums[name];
              return `${name} ${c.accepted ? (c.verified ? "checked" : "accepted, not checked") : "refused"}`;
            }).join(", "),
          ],
          [
            "  multipart ETag",
            p.multipartEtag.form === "md5OfPartMd5s"
              ? "MD5 of the part MD5s + -parts (the AWS form)"
              : `${p.multipartEtag.form}${p.multipartEtag.sample ? ` (${p.multipartEtag.sample})` : ""}`,
          ],
        );
      }
    }
    const width = Math.max(...rows.map(([label]) => label.length));
    for (const [label, value] of rows) this.log(`${label.padEnd(width)}  ${value}`);
    if (r.problems.length > 0 || r.warnings.length > 0) {
      this.log("");
      for (const problem of r.problems) this.log(`problem: ${problem}`);
      for (const warning of r.warnings) this.log(`warning: ${warning}`);
    }
  }
}

async function findXdelta3Binary(signal: AbortSignal): Promise<DoctorReport["deltaEngines"]["xdelta3Binary"]> {
  const path = findOnPath("xdelta3");
  if (!path) return { available: false, path: null, version: null };
  try {
    // `xdelta3 -V` prints "Xdelta version 3.0.11, Copyright …" on stderr.
    const { stdout, stderr } = await promisify(execFile)(path, ["-V"], { timeout: PROBE_TIMEOUT_MS, signal });
    const version = /version\s+([\d.]+)/i.exec(`${stdout}${stderr}`)?.[1] ?? null;
    return { available: true, path, version };
  } catch {
    return { available: true, path, version: null };
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    } catch {
      // unreadable PATH entry: skip
    }
  }
  return undefined;
}

/** xdelta3-wasm is a dependency of @toolkit/delta-store: resolve it from there (pnpm), else from here (npm). */
async function loadXdelta3Wasm(): Promise<DoctorReport["deltaEngines"]["xdelta3Wasm"]> {
  const here = createRequire(import.meta.url);
  const bases: NodeJS.Require[] = [];
  try {
    bases.push(createRequire(here.resolve("@toolkit/delta-store/package.json")));
  } catch {
    // delta-store not installed: try our own resolution
  }
  bases.push(here);
  let lastError = "not installed";
  for (const base of bases) {
    let entry: string;
    try {
      entry = base.resolve("xdelta3-wasm");
    } catch {
      continue;
    }
    try {
      await import(pathToFileURL(entry).href);
      let version: string | null = null;
      try {
        const pkg = JSON.parse(readFileSync(join(dirname(dirname(entry)), "package.json"), "utf8")) as {
          version?: string;
        };
        version = pkg.version ?? null;
      } catch {
        version = null;
      }
      return { available: true, version, error: null };
    } catch (error) {
      lastError = errorLine(error);
    }
  }
  return { available: false, version: null, error: lastError };
}
