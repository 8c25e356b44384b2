import type { S3Client } from "@aws-sdk/client-s3";
import { getEndpointFromInstructions } from "@smithy/core/endpoints";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * The SDK's own parts for a request sent past its middleware chain (the small-PUT and listing fast paths): the
 * endpoint from a command's endpoint rules, credentials, region, clock offset and hash from the client's config,
 * SigV4 from `@smithy/signature-v4`, the client's HTTP handler. One signer per region and service.
 */
export interface DirectRequests {
  /** The parts of the client's resolved config the fast paths read. */
  readonly config: DirectConfig;
  /**
   * Where `input` goes for `command` by the command's endpoint rules (path-style, virtual-hosted, FIPS, dual-stack
   * as configured), or undefined when its auth scheme is not plain SigV4 (S3 Express, multi-region access points).
   */
  target(input: object, command: unknown): Promise<DirectTarget | undefined>;
  /** Sign `request` for `target` with the client's credentials and clock offset. */
  sign<T extends object>(request: T, target: DirectTarget): Promise<T>;
  /** Send a signed request with the client's HTTP handler (its sockets, timeouts and abort). */
  send(request: object, signal: AbortSignal | undefined): Promise<{ response: DirectResponse }>;
}

/** An endpoint resolved for one request. */
export interface DirectTarget {
  url: URL;
  /** The URL's path without a trailing `/` (the bucket with path-style addressing). */
  basePath: string;
  region: string;
  service: string;
}

export interface DirectResponse {
  statusCode: number;
  headers: Record<string, string>;
  body?: AsyncIterable<Uint8Array> & { resume?: () => void; destroy?: () => void };
}

export interface DirectConfig {
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  region: () => Promise<string>;
  sha256: ConstructorParameters<typeof SignatureV4>[0]["sha256"];
  systemClockOffset?: number;
  requestChecksumCalculation: () => Promise<string>;
  requestHandler: {
    handle: (request: unknown, options: { abortSignal?: AbortSignal }) => Promise<{ response: DirectResponse }>;
  };
}

/** RFC 3986 encoding, as S3 wants key segments and query values (the SDK's `extendedEncodeURIComponent`). */
export const encodeRfc3986 = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function directRequests(client: S3Client): DirectRequests {
  const config = client.config as unknown as DirectConfig;
  const signers = new Map<string, SignatureV4>();
  const signerFor = (region: string, service: string) => {
    const id = `${region}/${service}`;
    let signer = signers.get(id);
    if (!signer) {
      signer = new SignatureV4({
        credentials: config.credentials,
        region,
        service,
        sha256: config.sha256,
        uriEscapePath: false,
        applyChecksum: true,
      });
      signers.set(id, signer);
    }
    return signer;
  };
  return {
    config,
    async target(input, command) {
      const endpoint = await getEndpointFromInstructions(input as never, command as never, config as never);
      const schemes = (endpoint.properties?.authSchemes ?? []) as {
        name?: string;
        signingRegion?: string;
        signingName?: string;
      }[];
      const scheme = schemes[0];
      if (scheme && scheme.name !== "sigv4") return undefined;
      const url = endpoint.url;
      return {
        url,
        basePath: url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname,
        region: scheme?.signingRegion ?? (await config.region()),
        service: scheme?.signingName ?? "s3",
      };
    },
    sign(request, target) {
      return signerFor(target.region, target.service).sign(request as never, {
        signingDate: new Date(Date.now() + (config.systemClockOffset ?? 0)),
      }) as never;
    },
    send(request, signal) {
      return config.requestHandler.handle(request, signal ? { abortSignal: signal } : {});
    },
  };
}
