import { etagPartCount, unquoteEtag } from "../hashing.ts";
import type { ObjectStore } from "../object-store.ts";
import { hashLocalFile, multipartEtagOf, partSizeFor } from "./local-hash.ts";
import { parseSyncMetadata } from "./metadata.ts";
import type { StateEntry, SyncState } from "./state.ts";

/** A local file as the comparison sees it. */
export interface LocalFileInfo {
  key: string;
  /** Absolute path. */
  path: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A listed object as the comparison sees it. */
export interface RemoteFileInfo {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
  /** The source file's mtime as stored with the item, when a custom `list` knows it (saves a HEAD per item). */
  mtimeMs?: number;
}

/**
 * `checksum` mode: does the local file hold the object's content? Single-part objects: the local MD5 against
 * the ETag. Multipart objects: the multipart ETag recomputed for our part size, for the part size recorded
 * in the state or in the object's `s3kit-part-size` metadata (one HEAD), or the `s3kit-sha256` metadata.
 * Local hashes are cached in the state by (size, mtime, ctime), so unchanged files are read once.
 */
export async function sameContent(
  file: LocalFileInfo,
  remote: RemoteFileInfo,
  state: SyncState,
  store: ObjectStore,
  options: { partSizeBytes: number; signal?: AbortSignal | undefined },
): Promise<{ same: boolean; sha256: string }> {
  const { signal } = options;
  const previous = state.get(file.key);
  // Cached hashes count only for the very same file state: size, mtime and ctime. An edit that puts the
  // mtime back (what `checksum` mode is for) still moves the ctime, which no tool can set.
  const cached =
    previous && previous.size === file.size && previous.mtimeMs === file.mtimeMs && previous.ctimeMs === file.ctimeMs
      ? previous
      : undefined;
  const ownPart = partSizeFor(file.size, options.partSizeBytes);
  let md5 = cached?.md5;
  let sha256 = cached?.sha256;
  let ownEtag = cached?.partSizeBytes === ownPart ? cached.multipartEtag : undefined;
  if (md5 === undefined || sha256 === undefined || ownEtag === undefined) {
    const hashes = await hashLocalFile(file.path, ownPart, signal);
    md5 = hashes.md5;
    sha256 = hashes.sha256;
    ownEtag = hashes.multipartEtag;
  }
  const remember = (etag: string, extra: Partial<StateEntry> = {}) =>
    state.set(file.key, {
      size: file.size,
      mtimeMs: file.mtimeMs,
      ctimeMs: file.ctimeMs,
      etag,
      md5: md5!,
      sha256: sha256!,
      multipartEtag: ownEtag!,
      partSizeBytes: ownPart,
      ...extra,
    });
  const remoteEtag = unquoteEtag(remote.etag).toLowerCase();
  let same = false;
  if (!remoteEtag.includes("-")) {
    same = remoteEtag === md5;
  } else {
    const parts = etagPartCount(remote.etag);
    if (unquoteEtag(ownEtag) === remoteEtag) same = true;
    else {
      // Another part size: the one recorded in our state, or the one in the object's metadata (one HEAD).
      let partSize = previous?.etag === remote.etag ? previous.partSizeBytes : undefined;
      let remoteSha: string | undefined;
      if (partSize === undefined || partSize === ownPart) {
        const info = await store.head(file.key, signal ? { signal } : {});
        const parsed = parseSyncMetadata(info?.metadata);
        partSize = parsed.partSizeBytes;
        remoteSha = parsed.sha256;
      }
      if (remoteSha !== undefined) same = remoteSha === sha256;
      else if (partSize !== undefined && partSize !== ownPart && Math.ceil(file.size / partSize) === parts) {
        same = unquoteEtag(await multipartEtagOf(file.path, partSize, signal)) === remoteEtag;
      }
    }
  }
  remember(same ? remote.etag : (previous?.etag ?? ""));
  return { same, sha256 };
}
