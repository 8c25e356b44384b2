import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { releaseBodyChunk } from "../fast-get.ts";
import { createSizeCounter } from "../trust/remote-input.ts";

/**
 * Bytes gathered before one positional `writev`. A socket hands over at most 64 KiB at a time; one write per
 * chunk through `fs.WriteStream` was the largest cost of a large download (issue 15), 1 MiB batches are ~16×
 * fewer writes. A small file (up to this size) is written with one `writev` once its body has arrived.
 */
export const WRITE_BATCH_BYTES = 1024 * 1024;

/** Options of {@link writeBodyAt}. */
export interface WriteBodyOptions {
  signal?: AbortSignal;
  /** Each chunk as it arrives, in order, before it is written: hash it here (one pass over the bytes). */
  onChunk?: (chunk: Buffer) => void;
  /** Bytes of this body written so far (after each write). */
  onBytes?: (writtenBytes: number) => void;
}

/**
 * Stream `body` into `file` from `position` on, with no stream pipeline: chunks are gathered and written with
 * one positional `writev` per {@link WRITE_BATCH_BYTES} (one write in flight while the next batch gathers).
 * More bytes than `expected` fail as soon as the excess arrives, before it is written (`createSizeCounter`,
 * the check of `createSizeLimit` without a Transform stream per body).
 * Resolves with the bytes written (fewer than `expected` when the body ended early: the caller decides).
 * On failure the body is destroyed; the file keeps what was written (the caller removes it).
 * @throws ObjectStoreError `invalidRemoteData` for a body longer than `expected`; the body's own error; the
 * signal's reason.
 */
export async function writeBodyAt(
  body: Readable,
  file: FileHandle,
  position: number,
  expected: number,
  what: string,
  options: WriteBodyOptions = {},
): Promise<number> {
  const { signal, onChunk, onBytes } = options;
  // No `pipeline()` (it allocates an AbortController per call and aborts it on finish: a DOMException with a
  // stack each time) and no size-limit Transform (one stream layer less per chunk): the body is read directly.
  const count = createSizeCounter(expected, what);
  let written = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let pending: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (pending) await pending;
    pending = undefined;
    if (batchBytes === 0) return;
    const chunks = batch;
    const bytes = batchBytes;
    const at = position + written;
    batch = [];
    batchBytes = 0;
    pending = file.writev(chunks, at).then(() => {
      // GetObject bodies arrive in pooled buffers (fast-get.ts): written, they take the next body's bytes.
      for (const chunk of chunks) releaseBodyChunk(chunk);
      written += bytes;
      onBytes?.(written);
    });
  };
  const onAbort = () => body.destroy(signal?.reason);
  signal?.throwIfAborted();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // The iterator destroys the body when this loop throws.
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      count(buffer.length);
      onChunk?.(buffer);
      batch.push(buffer);
      batchBytes += buffer.length;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
    if (pending) await pending;
    signal?.throwIfAborted();
    return written;
  } catch (error) {
    body.destroy();
    // A write still in flight must settle before the caller removes or closes the file.
    await pending?.catch(() => {});
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
