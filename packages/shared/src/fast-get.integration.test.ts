import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import tls from "node:tls";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createS3Client } from "./clients.ts";
import { BODY_CHUNK_BYTES, FastGetHandler, releaseBodyChunk } from "./fast-get.ts";
import { isRetryableError } from "./retry.ts";
import { createTestBucket, startS3Server, testClientOptions } from "./testing/index.ts";
import type { TestServer } from "./testing/servers.ts";

// The GetObject body path (fast-get.ts): against moto through createS3Client (same answers as the SDK's own
// handler), then against a scripted HTTP server for what moto never does (split heads, keep-alive, resets, chunked
// errors, silence, TLS).

async function readAll(body: Readable): Promise<{ bytes: Buffer; chunks: Buffer[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return { bytes: Buffer.concat(chunks), chunks };
}

describe("GetObject through the fast handler, against moto", () => {
  let server: TestServer;
  const clients: S3Client[] = [];
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(() => {
    for (const client of clients) client.destroy();
  });
  afterEach(() => {
    delete process.env.S3KIT_FAST_GET;
  });
  const client = (fast: boolean) => {
    process.env.S3KIT_FAST_GET = fast ? "1" : "0";
    const made = createS3Client({ ...testClientOptions(server), maxAttempts: 2 });
    clients.push(made);
    return made;
  };

  /** What a GetObject answered, in the fields our stores read, or the error's name and status. */
  async function get(s3: S3Client, input: ConstructorParameters<typeof GetObjectCommand>[0]) {
    try {
      const out = await s3.send(new GetObjectCommand(input));
      const { bytes, chunks } = await readAll(out.Body as Readable);
      return {
        result: {
          bytes,
          etag: out.ETag,
          length: out.ContentLength,
          range: out.ContentRange,
          type: out.ContentType,
          metadata: out.Metadata,
          modified: out.LastModified?.toISOString(),
        },
        chunks,
      };
    } catch (error) {
      const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
      return { result: { error: e.name, status: e.$metadata?.httpStatusCode }, chunks: [] };
    }
  }

  test("bodies, ranges, metadata and errors are what the SDK's own handler gives; bodies come in 1 MiB buffers", async () => {
    const { bucket } = await createTestBucket(server, "fast-get");
    const fast = client(true);
    const sdk = client(false);
    const big = randomBytes(3 * BODY_CHUNK_BYTES + 12_345);
    await fast.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "dir/big file+ü.bin",
        Body: big,
        ContentType: "image/x-raw",
        Metadata: { "s3kit-mtime": "1700000000000" },
      }),
    );
    await fast.send(new PutObjectCommand({ Bucket: bucket, Key: "empty", Body: Buffer.alloc(0) }));
    const { ETag: etag } = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: "empty" }));
    const cases: ConstructorParameters<typeof GetObjectCommand>[0][] = [
      { Bucket: bucket, Key: "dir/big file+ü.bin" },
      { Bucket: bucket, Key: "dir/big file+ü.bin", Range: "bytes=1000-2500000" },
      { Bucket: bucket, Key: "dir/big file+ü.bin", Range: "bytes=-10" },
      { Bucket: bucket, Key: "empty" },
      { Bucket: bucket, Key: "empty", IfNoneMatch: etag },
      { Bucket: bucket, Key: "empty", IfMatch: '"0123456789abcdef0123456789abcdef"' },
      { Bucket: bucket, Key: "missing" },
      { Bucket: bucket, Key: "dir/big file+ü.bin", Range: `bytes=${big.length + 10}-` },
    ];
    for (const input of cases) {
      const viaFast = await get(fast, input);
      const viaSdk = await get(sdk, input);
      expect(viaFast.result, JSON.stringify(input)).toEqual(viaSdk.result);
    }
    const whole = await get(fast, cases[0]!);
    expect(whole.result.bytes?.equals(big)).toBe(true);
    // The whole body in four chunks, each in a buffer of the pool (the SDK's handler gives ~64 KiB copies).
    // (the last, 12 KiB, is copied out: a small piece does not hold a 1 MiB buffer).
    expect(whole.chunks.length).toBe(4);
    for (const chunk of whole.chunks.slice(0, -1)) expect(chunk.buffer.byteLength).toBe(BODY_CHUNK_BYTES);
    const viaSdk = await get(sdk, cases[0]!);
    expect(viaSdk.chunks.length).toBeGreaterThan(4);
  });

  test("a written chunk given back is where the next body is read: no new buffer per MiB", async () => {
    const { bucket } = await createTestBucket(server, "fast-get-pool");
    const s3 = client(true);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a", Body: randomBytes(2 * BODY_CHUNK_BYTES) }));
    const seen = new Set<ArrayBufferLike>();
    for (let round = 0; round < 4; round++) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "a" }));
      for await (const chunk of out.Body as Readable) {
        seen.add((chunk as Buffer).buffer);
        releaseBodyChunk(chunk as Buffer);
        releaseBodyChunk(chunk as Buffer); // a second release is ignored
      }
    }
    // 4 bodies × 2 MiB through a handful of buffers (each connection holds one while it reads).
    expect(seen.size).toBeLessThanOrEqual(4);
    releaseBodyChunk(Buffer.alloc(16)); // not ours: ignored
  });
});

/** A scripted HTTP/1.1 server: `answer` gets each request head and the connection's number. */
async function scriptedServer(
  answer: (socket: net.Socket, request: string, connection: number, index: number) => void,
  secure?: { key: Buffer; cert: Buffer },
) {
  let connections = 0;
  const requests: string[] = [];
  const onConnection = (socket: net.Socket) => {
    const connection = ++connections;
    let pending = "";
    socket.on("error", () => {});
    socket.on("data", (data) => {
      pending += data.toString("latin1");
      for (let end = pending.indexOf("\r\n\r\n"); end !== -1; end = pending.indexOf("\r\n\r\n")) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        requests.push(head);
        answer(socket, head, connection, requests.length);
      }
    });
  };
  const server = secure ? tls.createServer(secure, onConnection) : net.createServer(onConnection);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const notCalled = {
  handle: () => {
    throw new Error("the fallback handler was called");
  },
  destroy: () => {},
} as never;

function handler(options: Partial<ConstructorParameters<typeof FastGetHandler>[1]> = {}) {
  return new FastGetHandler(notCalled, {
    socketTimeoutMs: 5_000,
    connectionTimeoutMs: 5_000,
    maxIdlePerOrigin: 4,
    ...options,
  });
}

const request = (port: number, extra: Record<string, unknown> = {}) => ({
  method: "GET",
  protocol: "http:",
  hostname: "127.0.0.1",
  port,
  path: "/bucket/a%20key",
  query: { "x-id": "GetObject" },
  headers: { range: "bytes=0-9" },
  ...extra,
});

const ok = (body: Buffer | string, extra = "") =>
  Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\netag: "e"\r\n${extra}\r\n`),
    Buffer.from(body),
  ]);

describe("the fast handler against a scripted server", () => {
  test("a head split into single bytes after a 100 Continue, on one kept-alive connection for three requests", async () => {
    const body = randomBytes(100_000);
    const srv = await scriptedServer((socket) => {
      const bytes = Buffer.concat([Buffer.from("HTTP/1.1 100 Continue\r\n\r\n"), ok(body, "x-amz-meta-a: 1\r\n")]);
      let i = 0;
      const drip = () => {
        if (i < 300) {
          socket.write(bytes.subarray(i, i + 1));
          i++;
          setImmediate(drip);
        } else socket.write(bytes.subarray(i));
      };
      drip();
    });
    const h = handler();
    for (let round = 0; round < 3; round++) {
      const { response } = await h.handle(request(srv.port));
      expect(response.statusCode).toBe(200);
      expect(response.headers["x-amz-meta-a"]).toBe("1");
      expect((await readAll(response.body)).bytes.equals(body)).toBe(true);
    }
    expect(srv.connections()).toBe(1);
    // The request line and headers as sent: the path as given, the query encoded, a host header.
    expect(srv.requests[0]).toMatch(/^GET \/bucket\/a%20key\?x-id=GetObject HTTP\/1\.1\r\n/);
    expect(srv.requests[0]).toContain(`host: 127.0.0.1:${srv.port}`);
    h.destroy();
    await srv.close();
  });

  test("over 1 MiB of interim 100 Continue answers before the real one: the body still arrives whole", async () => {
    const body = randomBytes(50_000);
    const srv = await scriptedServer((socket) => {
      socket.write(Buffer.alloc(0));
      socket.write("HTTP/1.1 100 Continue\r\n\r\n".repeat(50_000)); // 1.25 MB
      socket.write(ok(body));
    });
    const h = handler();
    const { response } = await h.handle(request(srv.port));
    expect(response.statusCode).toBe(200);
    expect((await readAll(response.body)).bytes.equals(body)).toBe(true);
    h.destroy();
    await srv.close();
  });

  test("a kept-alive socket the server closed meanwhile: the request goes once more on a new connection", async () => {
    const srv = await scriptedServer((socket, _request, connection) => {
      socket.write(ok("hello"));
      if (connection === 1) setTimeout(() => socket.destroy(), 20); // closes the idle connection
    });
    const h = handler();
    const first = await h.handle(request(srv.port));
    expect((await readAll(first.response.body)).bytes.toString()).toBe("hello");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await h.handle(request(srv.port));
    expect((await readAll(second.response.body)).bytes.toString()).toBe("hello");
    expect(srv.connections()).toBe(2);
    h.destroy();
    await srv.close();
  });

  test("a connection dropped mid-body fails the body with a retryable network error", async () => {
    const srv = await scriptedServer((socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 3000000\r\n\r\n");
      socket.write(randomBytes(1_500_000), () => socket.destroy());
    });
    const h = handler();
    const { response } = await h.handle(request(srv.port));
    const error = await readAll(response.body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ECONNRESET" });
    expect(isRetryableError(error)).toBe(true);
    h.destroy();
    await srv.close();
  });

  test("more bytes than the Content-Length: the body fails, and the excess is never handed on", async () => {
    const srv = await scriptedServer((socket) => {
      socket.write(Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"), Buffer.alloc(50, 1)]));
    });
    const h = handler();
    const { response } = await h.handle(request(srv.port));
    const got: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of response.body) got.push(chunk as Buffer);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "EPROTO" });
    expect(Buffer.concat(got).length).toBeLessThanOrEqual(10);
    h.destroy();
    await srv.close();
  });

  test("a chunked error answer and an answer that ends at close are read whole", async () => {
    const xml = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>';
    const srv = await scriptedServer((socket, _request, _connection, index) => {
      if (index === 1) {
        const a = xml.slice(0, 20);
        const b = xml.slice(20);
        socket.write("HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\ncontent-type: application/xml\r\n\r\n");
        socket.write(`${a.length.toString(16)}\r\n${a}\r\n${b.length.toString(16)};ext=1\r\n${b}`);
        setTimeout(() => socket.write("\r\n0\r\n\r\n"), 10);
      } else {
        socket.end(`HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n${"x".repeat(300_000)}`);
      }
    });
    const h = handler();
    const errorAnswer = await h.handle(request(srv.port));
    expect(errorAnswer.response.statusCode).toBe(404);
    expect((await readAll(errorAnswer.response.body)).bytes.toString()).toBe(xml);
    const untilClose = await h.handle(request(srv.port));
    expect((await readAll(untilClose.response.body)).bytes.toString()).toBe("x".repeat(300_000));
    expect(srv.connections()).toBe(1);
    h.destroy();
    await srv.close();
  });

  test("a server that goes silent hits the idle timeout: a retryable error, not a hang", async () => {
    const srv = await scriptedServer((socket, _request, _connection, index) => {
      if (index === 1) return; // never answers
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf"); // then silence mid-body
    });
    const h = handler({ socketTimeoutMs: 200 });
    const error = await h.handle(request(srv.port)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ETIMEDOUT" });
    expect(isRetryableError(error)).toBe(true);
    const { response } = await h.handle(request(srv.port));
    await expect(readAll(response.body)).rejects.toMatchObject({ code: "ETIMEDOUT" });
    h.destroy();
    await srv.close();
  });

  test("an abort before the answer and one mid-body reject with AbortError and close the connection", async () => {
    let closed = 0;
    const srv = await scriptedServer((socket, _request, _connection, index) => {
      socket.on("close", () => closed++);
      if (index === 2) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 5000000\r\n\r\nstart");
    });
    const h = handler();
    const before = new AbortController();
    const pending = h.handle(request(srv.port), { abortSignal: before.signal });
    setTimeout(() => before.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    const during = new AbortController();
    const { response } = await h.handle(request(srv.port), { abortSignal: during.signal });
    setTimeout(() => during.abort(), 50);
    await expect(readAll(response.body)).rejects.toMatchObject({ name: "AbortError" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(2);
    await expect(h.handle(request(srv.port), { abortSignal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
    h.destroy();
    await srv.close();
  });

  test("other requests go to the SDK's handler: PUT, HEAD, listings, and a header a request line cannot carry", async () => {
    const seen: string[] = [];
    const fallback = {
      handle: async (r: { method: string }) => {
        seen.push(r.method);
        return { response: { statusCode: 200, headers: {} } };
      },
    } as never;
    const h = new FastGetHandler(fallback, { socketTimeoutMs: 1000, connectionTimeoutMs: 1000, maxIdlePerOrigin: 1 });
    await h.handle(request(1, { method: "PUT" }));
    await h.handle(request(1, { method: "HEAD" }));
    await h.handle(request(1, { query: { "list-type": "2" } }));
    await h.handle(request(1, { headers: { "if-match": '"a"\r\nx-evil: 1' } }));
    expect(seen).toEqual(["PUT", "HEAD", "GET", "GET"]);
  });
});

describe("the fast handler over TLS", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "s3kit-tls-"));
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"],
        ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ],
      { stdio: "ignore" },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("bodies read through TLS sockets into pooled buffers, the certificate checked", async () => {
    const body = randomBytes(3 * BODY_CHUNK_BYTES + 7);
    const key = readFileSync(join(dir, "key.pem"));
    const cert = readFileSync(join(dir, "cert.pem"));
    const srv = await scriptedServer((socket) => socket.write(ok(body)), { key, cert });
    // A child trusts the test certificate (NODE_EXTRA_CA_CERTS is read at start) and reports the body's chunks.
    const script = `
      import { FastGetHandler } from ${JSON.stringify(new URL("./fast-get.ts", import.meta.url).pathname)};
      import { createHash } from "node:crypto";
      const h = new FastGetHandler({ destroy() {} }, { socketTimeoutMs: 5000, connectionTimeoutMs: 5000, maxIdlePerOrigin: 2 });
      const out = [];
      for (const hostname of ["localhost", "127.0.0.1"]) {
        const { response } = await h.handle({ method: "GET", protocol: "https:", hostname, port: ${srv.port},
          path: "/b/k", query: { "x-id": "GetObject" }, headers: {} });
        const hash = createHash("sha256"); let chunks = 0; let pooled = true;
        for await (const c of response.body) { hash.update(c); chunks++; if (c.length > 200000) pooled &&= c.buffer.byteLength === ${BODY_CHUNK_BYTES}; }
        out.push({ status: response.statusCode, sha: hash.digest("hex"), chunks, pooled });
      }
      h.destroy();
      console.log(JSON.stringify(out));`;
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
          env: { ...process.env, ...env },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
          stdout += d;
        });
        child.stderr.on("data", (d) => {
          stderr += d;
        });
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    const trusted = await run({ NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") });
    expect(trusted.stderr).toBe("");
    const sha = (await import("node:crypto")).createHash("sha256").update(body).digest("hex");
    expect(JSON.parse(trusted.stdout)).toEqual([
      { status: 200, sha, chunks: 4, pooled: true },
      { status: 200, sha, chunks: 4, pooled: true },
    ]);
    // Without trusting it: the handshake fails; no body.
    const untrusted = await run({});
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/self[- ]signed|unable to verify|DEPTH_ZERO/i);
    await srv.close();
  });
});
