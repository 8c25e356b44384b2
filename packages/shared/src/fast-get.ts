import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { NodeHttpHandler } from "@smithy/node-http-handler";
import { encodeRfc3986 } from "./direct-request.ts";

// Built-ins through require(), as in clients.ts: no ES module facade at start-up.
const requireBuiltin = createRequire(import.meta.url);
const net = requireBuiltin("node:net") as typeof import("node:net");
const tls = requireBuiltin("node:tls") as typeof import("node:tls");

/**
 * The GET body path (issue 15, cold download CPU). Node's HTTP client hands every body chunk to JavaScript as a
 * fresh copy of the 64 KiB buffer its socket read into: a 1 GiB download is ~2 GiB of short-lived off-heap
 * buffers, and V8 runs a full mark-compact every ~10 MiB received (35–43 % of a download's profile). This
 * handler sends the SDK's `GetObject` requests itself, on sockets that read straight into pooled 1 MiB buffers
 * (`onread`), parses the response head, and hands the body on in those buffers, one chunk per MiB, no copy.
 * A consumer that has written a chunk gives its buffer back with {@link releaseBodyChunk}; one that does not
 * simply leaves it to the garbage collector. Everything else about the request is still the SDK's: it is signed,
 * retried, its errors deserialized and its output parsed by the SDK's middleware as before; only the socket and
 * the HTTP/1.1 framing are ours.
 *
 * Other requests (PUT, HEAD, listings, …) go to the SDK's `NodeHttpHandler` unchanged. `S3KIT_FAST_GET=0`
 * sends GETs there too.
 */
export const BODY_CHUNK_BYTES = 1024 * 1024;

/** A body that ends within one buffer and is at most this long is copied out, so its buffer is not lent. */
const COPY_BELOW_BYTES = 128 * 1024;
/** Free buffers kept for reuse; more are left to the garbage collector. */
const MAX_FREE_BUFFERS = 32;
/** A response head longer than this is refused (S3's own limit on request headers is 8 KiB). */
const MAX_HEAD_BYTES = 256 * 1024;

const free: Buffer[] = [];
const lent = new WeakSet<ArrayBufferLike>();

function takeBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(BODY_CHUNK_BYTES);
}

/**
 * Give back the buffer of a body chunk once it has been used (written, hashed): the next body reads into it. A
 * chunk that did not come from this handler is ignored, as is a second release. Never touch the chunk after.
 */
export function releaseBodyChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (!lent.has(buffer)) return;
  lent.delete(buffer);
  if (free.length < MAX_FREE_BUFFERS) free.push(Buffer.from(buffer, 0, BODY_CHUNK_BYTES));
}

/** The parts of smithy's `HttpRequest` this handler reads. */
interface Request {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

interface Response {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Readable;
}

type HandleOptions = { abortSignal?: AbortSignal; requestTimeout?: number };

/** An error the SDK's retry strategy and {@link isRetryableError} treat as a dropped connection. */
function networkError(message: string, code = "ECONNRESET"): Error {
  return Object.assign(new Error(message), { code });
}

function abortError(): Error {
  const error = new Error("Request aborted");
  error.name = "AbortError";
  return error;
}

/** The query as smithy's `buildQueryString` writes it: sorted keys, RFC 3986 encoding. */
function queryString(query: Request["query"]): string {
  const parts: string[] = [];
  for (const key of Object.keys(query ?? {}).sort()) {
    const value = query?.[key];
    const name = encodeRfc3986(key);
    if (value === null || value === undefined) parts.push(name);
    else if (Array.isArray(value)) for (const item of value) parts.push(`${name}=${encodeRfc3986(item)}`);
    else parts.push(`${name}=${encodeRfc3986(value)}`);
  }
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

const UNSAFE = /[\r\n\0]/;
const CRLF2 = Buffer.from("\r\n\r\n");

/**
 * The response body: chunks are pushed by the connection; reading resumes a socket paused for back-pressure. A
 * failure before anyone reads is kept until the first read: destroyed at once, the body would emit `error` before
 * the SDK has attached its listeners (an uncaught exception, or a reader waiting forever).
 */
class Body extends Readable {
  resumeSocket: (() => void) | undefined;
  abandon: ((error: Error | null) => void) | undefined;
  private reading = false;
  private failure: Error | undefined;
  constructor() {
    // Object mode: a reader gets each chunk as it was pushed. In byte mode `read()` joins the buffered chunks
    // into one new buffer (a copy of every byte, measured at 11 % of a download's CPU).
    super({ objectMode: true, highWaterMark: 2 });
  }
  /** Fail the body: now if it is being read, else at its first read. */
  fail(error: Error): void {
    if (this.reading) this.destroy(error);
    else this.failure = error;
  }
  override _read(): void {
    this.reading = true;
    if (this.failure) {
      this.destroy(this.failure);
      return;
    }
    const resume = this.resumeSocket;
    this.resumeSocket = undefined;
    resume?.();
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const abandon = this.abandon;
    this.abandon = undefined;
    abandon?.(error);
    callback(error);
  }
}

/** One request on a connection, from sending it to the last byte of the body. */
interface Exchange {
  resolve: (response: Response) => void;
  reject: (error: Error) => void;
  /** False while no byte of the response has arrived (a reused socket that fails then is retried once). */
  answered: boolean;
  headed: boolean;
  body?: Body;
  /** "length": `left` bytes to come; "chunked"; "close": until the server closes; "none": no body. */
  mode: "length" | "chunked" | "close" | "none";
  left: number;
  chunked?: ChunkedDecoder;
  done: () => void;
}

/** Transfer-Encoding: chunked (error answers may come so); the decoded bytes are copied out. */
class ChunkedDecoder {
  private pending = Buffer.alloc(0);
  private state: "size" | "data" | "crlf" | "trailer" | "end" = "size";
  private left = 0;
  /** Feed raw bytes; returns decoded pieces, and whether the body ended. */
  feed(raw: Buffer): { pieces: Buffer[]; ended: boolean } {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, raw]) : Buffer.from(raw);
    const pieces: Buffer[] = [];
    for (;;) {
      if (this.state === "size" || this.state === "trailer") {
        const eol = data.indexOf("\r\n");
        if (eol === -1) {
          if (data.length > 4096) throw networkError("malformed chunked response", "EPROTO");
          break;
        }
        const line = data.toString("latin1", 0, eol);
        data = data.subarray(eol + 2);
        if (this.state === "trailer") {
          if (line === "") {
            this.state = "end";
            if (data.length > 0) throw networkError("bytes after the end of a chunked response", "EPROTO");
            break;
          }
          continue;
        }
        const size = /^[0-9a-fA-F]{1,12}/.exec(line.trim());
        if (!size) throw networkError("malformed chunk size in a chunked response", "EPROTO");
        this.left = Number.parseInt(size[0], 16);
        this.state = this.left === 0 ? "trailer" : "data";
      } else if (this.state === "data") {
        const n = Math.min(this.left, data.length);
        if (n === 0) break;
        pieces.push(Buffer.from(data.subarray(0, n)));
        data = data.subarray(n);
        this.left -= n;
        if (this.left === 0) this.state = "crlf";
      } else if (this.state === "crlf") {
        if (data.length < 2) break;
        if (data[0] !== 13 || data[1] !== 10) throw networkError("malformed chunked response", "EPROTO");
        data = data.subarray(2);
        this.state = "size";
      } else break;
    }
    this.pending = Buffer.from(data);
    return { pieces, ended: this.state === "end" };
  }
}

function parseHead(text: string): {
  status: number;
  reason: string;
  headers: Record<string, string>;
  keepAlive: boolean;
} {
  const lines = text.split("\r\n");
  const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!status) throw networkError("malformed HTTP status line", "EPROTO");
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw networkError("malformed HTTP header line", "EPROTO");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  // HTTP/1.0 closes after each response unless it says otherwise.
  const keepAlive =
    status[1] === "1" ? !/\bclose\b/i.test(headers.connection ?? "") : /\bkeep-alive\b/i.test(headers.connection ?? "");
  return { status: Number(status[2]), reason: status[3] ?? "", headers, keepAlive };
}

/** A socket that reads into pooled buffers, and the exchange it is serving. */
class Connection {
  readonly socket: Socket;
  buffer = takeBuffer();
  fill = 0;
  /** Start of the bytes of the current body not handed on yet. */
  emitted = 0;
  exchange: Exchange | undefined;
  /** Served a response before (kept alive); false once the server asked to close. */
  reused = false;
  reusable = true;
  closed = false;

  readonly key: string;
  private readonly onIdle: (connection: Connection) => void;

  constructor(key: string, request: Request, onIdle: (connection: Connection) => void, connectTimeoutMs: number) {
    this.key = key;
    this.onIdle = onIdle;
    const port = request.port ?? (request.protocol === "https:" ? 443 : 80);
    const onread = { buffer: () => this.buffer.subarray(this.fill), callback: (n: number) => this.onData(n) };
    this.socket =
      request.protocol === "https:"
        ? tls.connect({
            host: request.hostname,
            port,
            ...(net.isIP(request.hostname) ? {} : { servername: request.hostname }),
            // Node >= 15.1 reads TLS into `onread` buffers too; its types leave the option out.
            onread,
          } as import("node:tls").ConnectionOptions)
        : net.connect({ host: request.hostname, port, onread });
    this.socket.setNoDelay(true);
    const connectTimer = setTimeout(
      () => this.fail(networkError(`connection to ${request.hostname} timed out`, "ETIMEDOUT")),
      connectTimeoutMs,
    );
    this.socket.once(request.protocol === "https:" ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("end", () => this.onEnd());
    this.socket.on("close", () => {
      clearTimeout(connectTimer);
      this.onEnd();
    });
    this.socket.on("timeout", () => this.fail(networkError("socket timed out", "ETIMEDOUT")));
  }

  send(head: string, exchange: Exchange, socketTimeoutMs: number): void {
    this.exchange = exchange;
    this.socket.ref();
    this.socket.setTimeout(socketTimeoutMs);
    this.socket.write(head, "latin1");
    this.socket.resume();
  }

  /** The socket is unusable: fail what it serves and drop it. */
  fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const exchange = this.exchange;
    this.exchange = undefined;
    // The socket's own buffer (never lent) back to the pool once this turn is over: a TLS socket could still
    // deliver the rest of what it was decrypting into it in this same call.
    const buffer = this.buffer;
    setImmediate(() => {
      if (free.length < MAX_FREE_BUFFERS) free.push(buffer);
    });
    if (!exchange) return;
    if (!exchange.headed) exchange.reject(error);
    else exchange.body?.fail(error);
    exchange.done();
  }

  private onEnd(): void {
    const exchange = this.exchange;
    if (exchange?.headed && exchange.mode === "close") {
      this.handOn(exchange, this.fill - this.emitted, true);
      this.finish(exchange, false);
      return;
    }
    this.fail(networkError(exchange ? "the server closed the connection mid-response" : "connection closed"));
  }

  /** `n` new bytes at `fill`. Returns false to pause the socket (back-pressure). */
  private onData(n: number): boolean {
    if (this.closed) return false;
    this.fill += n;
    const exchange = this.exchange;
    if (!exchange) {
      this.fail(networkError("bytes from the server between responses", "EPROTO"));
      return false;
    }
    exchange.answered = true;
    try {
      if (!exchange.headed && !this.readHead(exchange, n)) return true;
      return this.readBody(exchange);
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
  }

  /** Whether the head is complete (the response then resolved). A head starts at the buffer's start: a finished
   * response leaves the connection's buffer empty, and interim answers are moved out. */
  private readHead(exchange: Exchange, n: number): boolean {
    for (;;) {
      const end = this.buffer.indexOf(CRLF2, Math.max(0, this.fill - n - 3));
      if (end === -1 || end + 4 > this.fill) {
        if (this.fill > MAX_HEAD_BYTES) throw networkError("response head too large", "EPROTO");
        return false;
      }
      const { status, reason, headers, keepAlive } = parseHead(this.buffer.toString("latin1", 0, end));
      if (status >= 100 && status < 200) {
        // 100 Continue and other interim answers: the real one follows. What came after moves to the buffer's
        // start, so any number of them never fills the buffer.
        this.buffer.copy(this.buffer, 0, end + 4, this.fill);
        this.fill -= end + 4;
        n = this.fill;
        continue;
      }
      this.emitted = end + 4;
      const length = headers["content-length"];
      const chunked = /\bchunked\b/i.test(headers["transfer-encoding"] ?? "");
      if (status === 204 || status === 304) exchange.mode = "none";
      else if (chunked) {
        exchange.mode = "chunked";
        exchange.chunked = new ChunkedDecoder();
      } else if (length !== undefined) {
        if (!/^\d{1,15}$/.test(length)) throw networkError("malformed Content-Length", "EPROTO");
        exchange.mode = "length";
        exchange.left = Number(length);
      } else exchange.mode = "close";
      if (!keepAlive) this.reusable = false;
      const body = new Body();
      body.abandon = (error) => {
        if (this.exchange === exchange) this.fail(error ?? networkError("response body abandoned"));
      };
      exchange.body = body;
      exchange.headed = true;
      exchange.resolve({ statusCode: status, reason, headers, body });
      return true;
    }
  }

  private readBody(exchange: Exchange): boolean {
    const available = this.fill - this.emitted;
    if (exchange.mode === "none") {
      if (available > 0) throw networkError("bytes after a response without a body", "EPROTO");
      this.finish(exchange, true);
      return true;
    }
    if (exchange.mode === "chunked") {
      const { pieces, ended } = exchange.chunked!.feed(this.buffer.subarray(this.emitted, this.fill));
      this.fill = 0;
      this.emitted = 0;
      let flowing = true;
      for (const piece of pieces) flowing = exchange.body!.push(piece) && flowing;
      if (ended) {
        this.finish(exchange, true);
        return true;
      }
      return this.flowing(exchange, flowing);
    }
    if (exchange.mode === "length" && available > exchange.left)
      throw networkError("more bytes than the response's Content-Length", "EPROTO");
    const complete = exchange.mode === "length" && available === exchange.left;
    if (!complete && this.fill < this.buffer.length) return true;
    const flowing = this.handOn(exchange, available, complete);
    if (complete) {
      this.finish(exchange, true);
      return true;
    }
    return this.flowing(exchange, flowing);
  }

  /** Push `available` bytes from `emitted` as one chunk: lend the buffer, or copy a small complete body. */
  private handOn(exchange: Exchange, available: number, last: boolean): boolean {
    if (available === 0) {
      // Nothing of the body in this buffer yet, and no room left (a head that ended exactly at its end): start over.
      if (this.fill === this.buffer.length) this.fill = this.emitted = 0;
      return true;
    }
    const start = this.emitted;
    let chunk: Buffer;
    if (last && available <= COPY_BELOW_BYTES) {
      chunk = Buffer.from(this.buffer.subarray(start, start + available));
      this.fill = 0;
    } else {
      chunk = this.buffer.subarray(start, start + available);
      lent.add(this.buffer.buffer);
      this.buffer = takeBuffer();
      this.fill = 0;
    }
    this.emitted = 0;
    if (exchange.mode === "length") exchange.left -= available;
    return exchange.body!.push(chunk);
  }

  private flowing(exchange: Exchange, flowing: boolean): boolean {
    if (flowing) return true;
    exchange.body!.resumeSocket = () => {
      if (!this.closed) this.socket.resume();
    };
    return false;
  }

  private finish(exchange: Exchange, reusable: boolean): void {
    exchange.body!.abandon = undefined;
    exchange.body!.resumeSocket = undefined;
    exchange.body!.push(null);
    this.exchange = undefined;
    exchange.done();
    if (reusable && this.reusable && !this.closed) {
      this.fill = 0;
      this.emitted = 0;
      this.reused = true;
      this.socket.setTimeout(0);
      this.socket.unref();
      this.onIdle(this);
    } else this.fail(networkError("connection closed"));
  }
}

/** Options of {@link FastGetHandler}. */
export interface FastGetOptions {
  /** Idle time of a socket during a request before it fails as a retryable timeout, in ms. */
  socketTimeoutMs: number;
  /** Time to connect, in ms. */
  connectionTimeoutMs: number;
  /** Idle keep-alive sockets kept per origin. */
  maxIdlePerOrigin: number;
}

/**
 * An SDK request handler: the SDK's `GetObject` requests on sockets of its own (see {@link BODY_CHUNK_BYTES}
 * for why), everything else through `fallback`.
 */
export class FastGetHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  private readonly idle = new Map<string, Connection[]>();
  private readonly enabled = process.env.S3KIT_FAST_GET !== "0";

  private readonly fallback: NodeHttpHandler;
  private readonly options: FastGetOptions;

  constructor(fallback: NodeHttpHandler, options: FastGetOptions) {
    this.fallback = fallback;
    this.options = options;
  }

  handle(request: Request, options: HandleOptions = {}): Promise<{ response: Response }> {
    // An abort signal without `addEventListener` (an old `@smithy/abort-controller` one): the SDK's handler knows it.
    const odd = options.abortSignal && typeof options.abortSignal.addEventListener !== "function";
    if (odd || !this.takes(request)) return this.fallback.handle(request as never, options) as never;
    return this.get(request, options, true);
  }

  /** GetObject (the SDK marks it `x-id=GetObject`), without a body, with nothing a raw request line could not carry. */
  private takes(request: Request): boolean {
    if (!this.enabled || request.method !== "GET" || request.query?.["x-id"] !== "GetObject") return false;
    if (request.body !== undefined && request.body !== null) return false;
    if (request.protocol !== "http:" && request.protocol !== "https:") return false;
    if (/[\s\0]/.test(request.path)) return false;
    return Object.entries(request.headers).every(([name, value]) => !UNSAFE.test(name) && !UNSAFE.test(value));
  }

  private async get(request: Request, options: HandleOptions, mayRetry: boolean): Promise<{ response: Response }> {
    const signal = options.abortSignal;
    if (signal?.aborted) throw abortError();
    const key = `${request.protocol}//${request.hostname}:${request.port ?? ""}`;
    const connection =
      this.take(key) ?? new Connection(key, request, (c) => this.park(c), this.options.connectionTimeoutMs);
    const headers = { ...request.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "host"))
      headers.host = request.port ? `${request.hostname}:${request.port}` : request.hostname;
    let head = `GET ${request.path}${queryString(request.query)} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    head += "\r\n";
    let onAbort: (() => void) | undefined;
    let exchange!: Exchange;
    const answered = new Promise<Response>((resolve, reject) => {
      exchange = {
        resolve,
        reject,
        answered: false,
        headed: false,
        mode: "none",
        left: 0,
        done: () => {
          if (onAbort) signal?.removeEventListener("abort", onAbort);
        },
      };
    });
    if (signal) {
      onAbort = () => connection.fail(abortError());
      signal.addEventListener("abort", onAbort, { once: true });
    }
    connection.send(head, exchange, this.options.socketTimeoutMs);
    try {
      return { response: await answered };
    } catch (error) {
      // A kept-alive socket the server had closed fails before any answer: send it once more on a new one.
      if (mayRetry && connection.reused && !exchange.answered && !signal?.aborted)
        return this.get(request, options, false);
      throw error;
    }
  }

  private take(key: string): Connection | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const connection = list.pop()!;
      if (!connection.closed && !connection.socket.destroyed) return connection;
    }
    return undefined;
  }

  private park(connection: Connection): void {
    const list = this.idle.get(connection.key) ?? [];
    this.idle.set(connection.key, list);
    if (list.length >= this.options.maxIdlePerOrigin) connection.fail(networkError("idle pool full"));
    else list.push(connection);
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.fallback.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs(): ReturnType<NodeHttpHandler["httpHandlerConfigs"]> {
    return this.fallback.httpHandlerConfigs();
  }

  destroy(): void {
    for (const list of this.idle.values()) for (const connection of list) connection.fail(networkError("destroyed"));
    this.idle.clear();
    this.fallback.destroy();
  }
}
