import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What a fault rule does to a request it matches. */
export type FaultAction =
  /** Answer 503 SlowDown without forwarding. */
  | { type: "slowDown" }
  /** Answer 500 InternalError without forwarding. */
  | { type: "internalError" }
  /** Answer 403 AccessDenied without forwarding. */
  | { type: "forbidden" }
  /** Answer 412 PreconditionFailed without forwarding (what a retried conditional write meets after a lost answer). */
  | { type: "preconditionFailed" }
  /** Destroy the connection before forwarding (the request is lost). */
  | { type: "reset" }
  /** Forward, then send the response headers and about half the body, then destroy the connection. */
  | { type: "resetMidBody" }
  /** Forward, let the server act on the request, then drop the connection without answering (a lost answer). */
  | { type: "dropResponse" }
  /** Wait, then forward. */
  | { type: "delay"; ms: number }
  /** Forward, then answer with the server's body with `from` replaced by `to` (a server that says something else). */
  | { type: "rewriteBody"; from: string | RegExp; to: string }
  /**
   * Forward without `If-Match` / `If-None-Match`: the server acts as a store that silently ignores conditional
   * requests (the signature is left as it was; moto does not check it).
   */
  | { type: "stripConditionalHeaders" };

export interface FaultRule {
  /** Which requests the rule may hit. @default every request */
  match?: { method?: string; path?: RegExp } | ((request: { method: string; path: string }) => boolean);
  /** Chance (0..1) that a matching request gets the fault. @default 1 */
  probability?: number;
  /** Apply at most this many times. @default unlimited */
  times?: number;
  action: FaultAction;
}

export interface FaultProxyOptions {
  /** The server to forward to, e.g. `http://127.0.0.1:5000`. */
  target: string;
  faults?: FaultRule[];
  /** Seed of the proxy's random choices, for repeatable runs. @default 1 */
  seed?: number;
  /**
   * Keep clients' connections open as S3 does, even where the server closes each one (moto's development server
   * answers every request with `Connection: close`, so each request would cost every client a new TCP connection
   * that real S3 does not). The proxy's own connections to the server are its cost, not the client's.
   * @default false
   */
  keepClientConnections?: boolean;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** The fault applied, if any. */
  fault?: FaultAction["type"];
  /** Status sent to the client (0 for a reset). */
  status: number;
}

export interface FaultProxy {
  /** Point clients here. */
  endpoint: string;
  /** Every request seen, in order. */
  readonly requests: ProxiedRequest[];
  /** Replace the rules (e.g. between phases of a test). */
  setFaults(faults: FaultRule[]): void;
  stop(): Promise<void>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
    ...(status === 503 ? { "retry-after": "0" } : {}),
  });
  res.end(body);
}

/**
 * An HTTP proxy for reliability tests: forwards to `target` and injects 503 SlowDown, 500, 403, connection
 * resets (before forwarding or in the middle of a response body), delays and stripped conditional headers (a
 * store that ignores `If-Match` / `If-None-Match`), by rule. Listens on 127.0.0.1.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let faults = options.faults ?? [];
  let used = new Map<FaultRule, number>();
  const random = mulberry32(options.seed ?? 1);
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  function pick(method: string, path: string): FaultRule | undefined {
    for (const rule of faults) {
      const m = rule.match;
      const matches =
        m === undefined ||
        (typeof m === "function"
          ? m({ method, path })
          : (m.method === undefined || m.method === method) && (m.path === undefined || m.path.test(path)));
      if (!matches) continue;
      if (rule.times !== undefined && (used.get(rule) ?? 0) >= rule.times) continue;
      if (random() >= (rule.probability ?? 1)) continue;
      used.set(rule, (used.get(rule) ?? 0) + 1);
      return rule;
    }
    return undefined;
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    record: ProxiedRequest,
    cutMidBody: boolean,
    drop = false,
    headers = req.headers,
    rewrite?: { from: string | RegExp; to: string },
  ): void {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (up) => {
        if (drop) {
          // The server has done the work; the client never hears about it.
          up.resume();
          up.on("end", () => res.socket?.destroy());
          record.status = 0;
          return;
        }
        record.status = up.statusCode ?? 0;
        if (rewrite) {
          const chunks: Buffer[] = [];
          up.on("data", (chunk: Buffer) => chunks.push(chunk));
          up.on("end", () => {
            const body = Buffer.from(Buffer.concat(chunks).toString("utf8").replace(rewrite.from, rewrite.to), "utf8");
            const { connection: _c, "content-length": _l, "transfer-encoding": _t, ...rest } = up.headers;
            res.writeHead(up.statusCode ?? 502, { ...rest, "content-length": String(body.length) });
            res.end(body);
          });
          return;
        }
        const { connection: _connection, ...kept } = up.headers;
        res.writeHead(up.statusCode ?? 502, options.keepClientConnections ? kept : up.headers);
        if (!cutMidBody) {
          up.pipe(res);
          return;
        }
        const length = Number(up.headers["content-length"] ?? 0);
        let sent = 0;
        const limit = Math.max(1, Math.floor(length / 2));
        up.on("data", (chunk: Buffer) => {
          if (sent >= limit) return;
          const take = chunk.subarray(0, limit - sent);
          sent += take.length;
          res.write(take);
          if (sent >= limit) {
            record.status = 0;
            up.destroy();
            res.socket?.destroy();
          }
        });
        up.on("end", () => res.end());
      },
    );
    upstream.on("error", () => {
      record.status = 502;
      res.socket?.destroy();
    });
    req.pipe(upstream);
  }

  const server = createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const rule = pick(method, path);
    const record: ProxiedRequest = { method, path, status: 0, ...(rule ? { fault: rule.action.type } : {}) };
    requests.push(record);
    const action = rule?.action;
    if (!action) return forward(req, res, record, false);
    switch (action.type) {
      case "slowDown":
      case "internalError":
      case "forbidden":
      case "preconditionFailed": {
        const [status, code, message] =
          action.type === "slowDown"
            ? [503, "SlowDown", "Please reduce your request rate."]
            : action.type === "internalError"
              ? [500, "InternalError", "We encountered an internal error. Please try again."]
              : action.type === "preconditionFailed"
                ? [412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"]
                : [403, "AccessDenied", "Access Denied"];
        record.status = status;
        req.resume();
        req.on("end", () => s3Error(res, status, code, message));
        return;
      }
      case "reset":
        req.socket.destroy();
        return;
      case "resetMidBody":
        return forward(req, res, record, true);
      case "dropResponse":
        return forward(req, res, record, false, true);
      case "delay":
        setTimeout(() => forward(req, res, record, false), action.ms);
        return;
      case "rewriteBody":
        return forward(req, res, record, false, false, req.headers, action);
      case "stripConditionalHeaders": {
        const { "if-match": _ifMatch, "if-none-match": _ifNoneMatch, ...rest } = req.headers;
        return forward(req, res, record, false, false, rest);
      }
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setFaults(next) {
      faults = next;
      used = new Map();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
