import { createLimit, isObjectStoreError } from "@toolkit/shared";
import { ulid } from "ulid";
import { KvError } from "./errors.ts";
import type { LocalDb, Row } from "./local-db.ts";
import { deleteQuietly, putObject, type Remote, readManifest, readRange, remoteError } from "./remote.ts";
import {
  MANIFEST_FORMAT,
  MANIFEST_KEY,
  MANIFEST_VERSION,
  type Manifest,
  type PackEntry,
  type PackedSegment,
  packSegment,
  parseFooter,
  SEGMENTS_PREFIX,
  type SegmentEntry,
  type SegmentRef,
  serializeManifest,
  valueCrc,
} from "./remote-format.ts";
import { assertSafeToPush } from "./store-safety.ts";

/** How a key changed on both sides since the last pull is settled. */
export type OnConflict = "newest" | "local" | "remote" | "error";

/** A key that changed locally and remotely since the last pull, and which side won. */
export interface Conflict {
  key: string;
  winner: "local" | "remote";
  /** Local and remote modification times, ms since the epoch (fractional). */
  localTime: number;
  remoteTime: number;
}

export interface PullResult {
  /** Keys whose remote value is new to this replica (fetched lazily on read). */
  updated: number;
  /** Keys deleted because the remote deleted them. */
  deleted: number;
  /** Requests sent to the remote. */
  requests: number;
  conflicts: Conflict[];
}

export interface PushResult {
  /** Keys whose value was sent. */
  pushed: number;
  /** Deletions sent. */
  deleted: number;
  /** Requests sent to the remote (including a rebase after losing a race). */
  requests: number;
  conflicts: Conflict[];
}

export interface CompactResult {
  segmentsBefore: number;
  segmentsAfter: number;
  /** Keys with a value after compaction. */
  liveKeys: number;
  /** Superseded values and tombstones left out. */
  droppedEntries: number;
  /** Segment objects deleted (retired ones past the grace period, and orphans of failed pushes). */
  deletedObjects: number;
  requests: number;
}

/** @internal */
export interface SyncContext {
  local: LocalDb;
  remote: Remote;
  codecId: string;
  onConflict: OnConflict;
  graceMs: number;
}

const MAX_PUSH_ATTEMPTS = 10;
const FOOTER_CONCURRENCY = 4;
/** An unreferenced segment younger than this may belong to a push still in flight; it is never swept. */
const ORPHAN_MIN_AGE_MS = 15 * 60_000;

export const segmentKeyOf = (id: string) => `${SEGMENTS_PREFIX}${id}.kvseg`;
const µsToMs = (µs: number) => µs / 1000;

function checkCodec(ctx: SyncContext, manifest: Manifest): void {
  if (manifest.codec !== ctx.codecId) {
    throw new KvError(
      "kv.codecMismatch",
      `The remote ${ctx.remote.url} was written with codec \`${manifest.codec}\`, not \`${ctx.codecId}\`; open it with codec: ${JSON.stringify(manifest.codec)}.`,
    );
  }
}

/** @internal */
export function cachedManifest(local: LocalDb): { manifest: Manifest; etag: string } | undefined {
  const etag = local.getMeta("etag");
  const json = local.getMeta("manifest");
  return etag && json ? { manifest: JSON.parse(json) as Manifest, etag } : undefined;
}

function pendingSegments(local: LocalDb): string[] {
  const json = local.getMeta("pendingSegments");
  return json ? (JSON.parse(json) as string[]) : [];
}

function addPendingSegment(local: LocalDb, id: string): void {
  const ids = pendingSegments(local);
  if (!ids.includes(id)) local.setMeta("pendingSegments", JSON.stringify([...ids, id]));
}

/** Upload a packed segment under a fresh ULID; a failed upload leaves no partial object behind. */
async function uploadSegment(remote: Remote, packed: PackedSegment, signal?: AbortSignal): Promise<SegmentRef> {
  const id = ulid();
  const segment: SegmentRef = {
    id,
    key: segmentKeyOf(id),
    size: packed.body.length,
    indexOffset: packed.indexOffset,
    indexLength: packed.indexLength,
    entries: packed.entries.length,
  };
  try {
    await putObject(remote, segment.key, packed.body, {
      contentType: "application/octet-stream",
      contentLength: packed.body.length,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    await deleteQuietly(remote, [segment.key]);
    throw remoteError(remote, `upload segment ${segment.key}`, error, signal);
  }
  return segment;
}

/** Read the footer indexes of segments, one ranged GET each. */
async function readFooters(
  ctx: SyncContext,
  segments: SegmentRef[],
  signal: AbortSignal | undefined,
): Promise<Map<string, SegmentEntry[]>> {
  const limit = createLimit(FOOTER_CONCURRENCY);
  const out = new Map<string, SegmentEntry[]>();
  await Promise.all(
    segments.map((segment) =>
      limit(async () => {
        signal?.throwIfAborted();
        let bytes: Uint8Array;
        try {
          bytes = await readRange(ctx.remote, segment.key, { start: segment.indexOffset }, signal);
        } catch (error) {
          if (isObjectStoreError(error, "notFound")) {
            throw new KvError(
              "kv.integrity",
              `Segment ${ctx.remote.url}${segment.key} named by the manifest is missing; restore it, or push from a replica with flag "n".`,
              { cause: error },
            );
          }
          throw error;
        }
        if (bytes.byteLength !== segment.size - segment.indexOffset) {
          throw new KvError(
            "kv.integrity",
            `Segment ${ctx.remote.url}${segment.key} has ${segment.indexOffset + bytes.byteLength} bytes, the manifest says ${segment.size}.`,
          );
        }
        out.set(segment.id, parseFooter(bytes, `${ctx.remote.url}${segment.key}`));
      }),
    ),
  );
  return out;
}

/**
 * Apply a remote manifest to the local file in one transaction: entries of segments not seen yet, in manifest
 * order, then the removal of segments the manifest no longer lists. Conflicts follow `onConflict`; with
 * `"error"` nothing is applied and `kv.conflict` names the keys.
 */
function applyManifest(
  ctx: SyncContext,
  fetched: { manifest: Manifest; etag: string },
  footers: Map<string, SegmentEntry[]>,
  onConflict: OnConflict,
  conflicts: Conflict[],
): { updated: number; deleted: number } {
  const { local } = ctx;
  const { manifest } = fetched;
  const db = local.db;
  const setPointer = db.prepare(
    "UPDATE kv SET r_seg = ?, r_off = ?, r_len = ?, r_crc = ?, r_ts = ?, rev = rev + ? WHERE key = ?",
  );
  const upsertClean =
    db.prepare(`INSERT INTO kv (key, value, present, ts, deleted, dirty, rev, r_seg, r_off, r_len, r_crc, r_ts)
      VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, present = excluded.present, ts = excluded.ts, deleted = 0,
        dirty = 0, rev = rev + 1, r_seg = excluded.r_seg, r_off = excluded.r_off, r_len = excluded.r_len,
        r_crc = excluded.r_crc, r_ts = excluded.r_ts`);
  const markClean = db.prepare(
    "UPDATE kv SET dirty = 0, r_seg = ?, r_off = ?, r_len = ?, r_crc = ?, r_ts = ?, rev = rev + 1 WHERE key = ?",
  );
  // Segments of our own pushes whose manifest swap had an unknown outcome (see `push`).
  const own = new Set(pendingSegments(local));
  const errorKeys: string[] = [];
  let updated = 0;
  let deleted = 0;
  const order = new Map(manifest.segments.map((s, i) => [s.id, i] as const));

  return local.transaction(() => {
    const localDbId = local.getMeta("dbId");
    if (localDbId !== undefined && localDbId !== manifest.dbId) {
      // The remote was replaced (flag "n" elsewhere): forget what we knew of the old one, keep local edits.
      deleted += db.prepare("DELETE FROM kv WHERE dirty = 0").run().changes;
      db.exec(
        "UPDATE kv SET r_seg = NULL, r_off = NULL, r_len = NULL, r_crc = NULL, r_ts = NULL; DELETE FROM kv WHERE deleted = 1; DELETE FROM segments",
      );
    }
    const seen = new Set(db.prepare("SELECT id FROM segments").pluck().all() as string[]);
    const applyRemoteVersion = (row: Row | undefined, e: SegmentEntry, segment: SegmentRef) => {
      if (e.tombstone) {
        if (row) {
          local.deleteRow.run(e.key);
          deleted++;
        }
        return;
      }
      const empty = e.length === 0;
      upsertClean.run(
        e.key,
        empty ? Buffer.alloc(0) : null,
        empty ? 1 : 0,
        e.ts,
        segment.id,
        e.offset,
        e.length,
        e.crc,
        e.ts,
      );
      updated++;
    };
    manifest.segments.forEach((segment, position) => {
      if (seen.has(segment.id)) return;
      const entries = footers.get(segment.id);
      if (!entries) return;
      for (const e of entries) {
        const row = local.getRow.get(e.key);
        const samePlace = row?.r_seg != null && !e.tombstone && row.r_ts === e.ts && row.r_crc === e.crc;
        if (row?.r_seg != null && (order.get(row.r_seg) ?? -1) > position) continue; // a newer version is applied
        if (samePlace) {
          // The same remote version, moved by a compaction: re-point, keep the local value.
          setPointer.run(segment.id, e.offset, e.length, e.crc, e.ts, 0, e.key);
          continue;
        }
        if (!row || row.dirty === 0) {
          applyRemoteVersion(row, e, segment);
          continue;
        }
        const sameVersion = e.tombstone
          ? row.deleted === 1
          : row.deleted === 0 &&
            row.ts === e.ts &&
            (row.value?.byteLength ?? 0) === e.length &&
            valueCrc(row.value ?? Buffer.alloc(0)) === e.crc;
        if (sameVersion) {
          // Our own write, committed by an earlier push whose answer we never saw.
          if (e.tombstone) local.deleteRow.run(e.key);
          else markClean.run(segment.id, e.offset, e.length, e.crc, e.ts, e.key);
          continue;
        }
        if (own.has(segment.id)) {
          // Our own write, committed by a push whose answer we never saw, and written again since: the
          // remote now holds our older version. Not a conflict; the key stays dirty for this push.
          if (e.tombstone) setPointer.run(null, null, null, null, null, 0, e.key);
          else setPointer.run(segment.id, e.offset, e.length, e.crc, e.ts, 0, e.key);
          continue;
        }
        if (onConflict === "error") {
          errorKeys.push(e.key);
          continue;
        }
        const winner =
          onConflict === "local" || onConflict === "remote" ? onConflict : e.ts > row.ts ? "remote" : "local";
        conflicts.push({ key: e.key, winner, localTime: µsToMs(row.ts), remoteTime: µsToMs(e.ts) });
        if (winner === "remote") applyRemoteVersion(row, e, segment);
        else if (e.tombstone) setPointer.run(null, null, null, null, null, 1, e.key);
        else setPointer.run(segment.id, e.offset, e.length, e.crc, e.ts, 1, e.key);
      }
      db.prepare("INSERT OR REPLACE INTO segments (id, ord) VALUES (?, ?)").run(segment.id, position);
    });
    for (const id of seen) {
      if (order.has(id)) continue;
      // A compaction dropped this segment: what still points at it was deleted remotely.
      deleted += db.prepare("DELETE FROM kv WHERE dirty = 0 AND r_seg = ?").run(id).changes;
      db.prepare(
        "UPDATE kv SET r_seg = NULL, r_off = NULL, r_len = NULL, r_crc = NULL, r_ts = NULL WHERE r_seg = ?",
      ).run(id);
      db.prepare("DELETE FROM kv WHERE deleted = 1 AND r_seg IS NULL").run();
      db.prepare("DELETE FROM segments WHERE id = ?").run(id);
    }
    if (errorKeys.length > 0) {
      const shown = errorKeys.slice(0, 10).map((k) => JSON.stringify(k));
      throw new KvError(
        "kv.conflict",
        `${errorKeys.length} key(s) changed both locally and in ${ctx.remote.url} since the last pull: ${shown.join(", ")}${errorKeys.length > 10 ? ", …" : ""}; pull with onConflict "local", "remote" or "newest" to settle them.`,
        { keys: errorKeys },
      );
    }
    local.setMeta("dbId", manifest.dbId);
    local.setMeta("etag", fetched.etag);
    local.setMeta("manifest", JSON.stringify(manifest));
    return { updated, deleted };
  });
}

/** Read the segments of a fetched manifest this replica has not seen, and apply them. */
async function rebase(
  ctx: SyncContext,
  fetched: { manifest: Manifest; etag: string },
  onConflict: OnConflict,
  conflicts: Conflict[],
  signal: AbortSignal | undefined,
): Promise<{ updated: number; deleted: number }> {
  checkCodec(ctx, fetched.manifest);
  const sameDb = ctx.local.getMeta("dbId") === fetched.manifest.dbId;
  const seen = sameDb ? new Set(ctx.local.db.prepare("SELECT id FROM segments").pluck().all() as string[]) : new Set();
  const unseen = fetched.manifest.segments.filter((s) => !seen.has(s.id));
  const footers = await readFooters(ctx, unseen, signal);
  signal?.throwIfAborted();
  return applyManifest(ctx, fetched, footers, onConflict, conflicts);
}

/** Pull: one conditional GET of the manifest, then one ranged GET per segment not seen yet. */
/** @internal */
export async function pull(
  ctx: SyncContext,
  options: { onConflict?: OnConflict | undefined; signal?: AbortSignal | undefined } = {},
  prefetched?: { manifest: Manifest; etag: string },
): Promise<PullResult> {
  const start = ctx.remote.requests;
  const conflicts: Conflict[] = [];
  const done = (r: { updated: number; deleted: number }) => ({
    ...r,
    requests: ctx.remote.requests - start,
    conflicts,
  });
  // A database opened with flag "n" replaces the remote at its next push; until then the old remote is not pulled.
  if (ctx.local.getMeta("replace") === "1") return done({ updated: 0, deleted: 0 });
  const fetched =
    prefetched ?? (await readManifest(ctx.remote, { ifNoneMatch: ctx.local.getMeta("etag"), signal: options.signal }));
  if (fetched === "notModified" || fetched === undefined) return done({ updated: 0, deleted: 0 });
  return done(await rebase(ctx, fetched, options.onConflict ?? ctx.onConflict, conflicts, options.signal));
}

interface Uploaded {
  segment: SegmentRef;
  /** The rows packed, with the revision packed: a row written again meanwhile stays dirty. */
  rows: { key: string; rev: number; tombstone: boolean; entry: SegmentEntry }[];
}

function sameRows(uploaded: Uploaded, rows: Row[]): boolean {
  if (uploaded.rows.length !== rows.length) return false;
  return rows.every((row, i) => uploaded.rows[i]!.key === row.key && uploaded.rows[i]!.rev === row.rev);
}

/**
 * Push: pack every dirty key into one new segment (one PUT), then swap the manifest with a conditional PUT.
 * If another writer won the swap, pull its segments (rebase, settling conflicts), and try again; the uploaded
 * segment is reused when the rebase left the dirty set unchanged.
 */
/** @internal */
export async function push(
  ctx: SyncContext,
  options: {
    onConflict?: OnConflict | undefined;
    signal?: AbortSignal | undefined;
    /** Skip the conditional-write check for this push (see store-safety.ts). */
    singleWriter?: boolean | undefined;
  } = {},
): Promise<PushResult> {
  const { local, remote } = ctx;
  const { signal } = options;
  const onConflict = options.onConflict ?? ctx.onConflict;
  const start = remote.requests;
  const conflicts: Conflict[] = [];
  const replace = local.getMeta("replace") === "1";
  let current: { manifest: Manifest; etag: string } | undefined = replace ? undefined : cachedManifest(local);
  if (!current) {
    const fetched = await readManifest(remote, { signal });
    current = fetched === "notModified" ? undefined : fetched;
    if (current) checkCodec(ctx, current.manifest);
    // Never pushed or pulled here: learn the remote first, so that keys it has are seen as conflicts, not lost.
    if (current && !replace) await rebase(ctx, current, onConflict, conflicts, signal);
  }
  let uploaded: Uploaded | undefined;
  const discard = async () => {
    if (uploaded && !current?.manifest.segments.some((s) => s.id === uploaded?.segment.id)) {
      await deleteQuietly(remote, [uploaded.segment.key]);
    }
    uploaded = undefined;
  };
  const result = (u: Uploaded | undefined): PushResult => ({
    pushed: u?.rows.filter((r) => !r.tombstone).length ?? 0,
    deleted: u?.rows.filter((r) => r.tombstone).length ?? 0,
    requests: remote.requests - start,
    conflicts,
  });

  try {
    for (let attempt = 0; attempt < MAX_PUSH_ATTEMPTS; attempt++) {
      signal?.throwIfAborted();
      const rows = local.dirtyRows.all();
      if (uploaded && current?.manifest.segments.some((s) => s.id === uploaded?.segment.id)) {
        // Our manifest swap did land (its answer was lost, or the SDK retried it): the rebase committed it.
        return result(uploaded);
      }
      if (rows.length === 0 && !replace) {
        await discard();
        return result(undefined);
      }
      if (uploaded && !sameRows(uploaded, rows)) await discard();
      if (!uploaded) {
        // Before the first write: refuse an endpoint that would let another writer's swap silently win.
        if (!options.singleWriter) await assertSafeToPush(remote, signal);
        const items: PackEntry[] = rows.map((row) => ({
          key: row.key,
          ts: row.ts,
          value: row.deleted ? undefined : (row.value ?? Buffer.alloc(0)),
        }));
        const packed = packSegment(items);
        const segment = await uploadSegment(remote, packed, signal);
        uploaded = {
          segment,
          rows: rows.map((row, i) => ({
            key: row.key,
            rev: row.rev,
            tombstone: row.deleted === 1,
            entry: packed.entries[i]!,
          })),
        };
      }
      const base = current?.manifest;
      const now = Date.now();
      const next: Manifest =
        replace || !base
          ? {
              format: MANIFEST_FORMAT,
              version: MANIFEST_VERSION,
              dbId: ulid(),
              codec: ctx.codecId,
              generation: (base?.generation ?? 0) + 1,
              updatedAt: new Date(now).toISOString(),
              segments: [uploaded.segment],
              retired: [
                ...(base?.retired ?? []),
                ...(base?.segments ?? []).map((s) => ({ key: s.key, retiredAt: now })),
              ],
            }
          : {
              ...base,
              generation: base.generation + 1,
              updatedAt: new Date(now).toISOString(),
              segments: [...base.segments, uploaded.segment],
            };
      // Until the answer arrives the swap's outcome is unknown (the answer can be lost, the process killed):
      // remember the segment as ours, so a later rebase that finds it committed knows whose entries they are.
      addPendingSegment(local, uploaded.segment.id);
      let etag: string;
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html — 412 means another writer won.
        etag = await putObject(remote, MANIFEST_KEY, serializeManifest(next), {
          contentType: "application/json",
          ...(current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }),
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        if (!isObjectStoreError(error, "preconditionFailed")) {
          // The swap may have landed although its answer was lost: the segment must stay (a later
          // push recognises it; if it is not referenced, compaction sweeps it as an orphan).
          uploaded = undefined;
          throw remoteError(remote, "replace the manifest", error, signal);
        }
        remote.logger.debug("kv: another writer changed the manifest; rebasing", { url: remote.url, attempt });
        const fetched = await readManifest(remote, { signal });
        const before = current;
        current = fetched === "notModified" ? undefined : fetched;
        if (current && !replace) await rebase(ctx, current, onConflict, conflicts, signal);
        if (before && current && current.manifest.dbId !== before.manifest.dbId) await discard();
        continue;
      }
      commitPush(ctx, next, etag, uploaded, replace);
      const committed = uploaded;
      uploaded = undefined;
      return result(committed);
    }
    throw new KvError(
      "kv.remote",
      `Push to ${remote.url} gave up after ${MAX_PUSH_ATTEMPTS} attempts: other writers keep replacing the manifest; push again.`,
    );
  } catch (error) {
    await discard();
    throw error;
  }
}

function commitPush(ctx: SyncContext, next: Manifest, etag: string, uploaded: Uploaded, replace: boolean): void {
  const { local } = ctx;
  const db = local.db;
  const markPushed = db.prepare(`UPDATE kv SET r_seg = ?, r_off = ?, r_len = ?, r_crc = ?, r_ts = ?,
      dirty = CASE WHEN rev = ? THEN 0 ELSE dirty END WHERE key = ?`);
  const dropTombstone = db.prepare("DELETE FROM kv WHERE key = ? AND rev = ? AND deleted = 1");
  const clearPointer = db.prepare(
    "UPDATE kv SET r_seg = NULL, r_off = NULL, r_len = NULL, r_crc = NULL, r_ts = NULL WHERE key = ?",
  );
  const id = uploaded.segment.id;
  local.transaction(() => {
    if (replace) {
      db.exec("DELETE FROM segments");
      local.setMeta("replace", undefined);
    }
    // Our swap was conditional on a manifest we had fully applied: an earlier swap of ours that landed was in
    // it (and applied); one that was not never will be (the ETag it was conditional on is gone).
    local.setMeta("pendingSegments", undefined);
    for (const row of uploaded.rows) {
      if (row.tombstone) {
        if (dropTombstone.run(row.key, row.rev).changes === 0) clearPointer.run(row.key);
      } else {
        markPushed.run(id, row.entry.offset, row.entry.length, row.entry.crc, row.entry.ts, row.rev, row.key);
      }
    }
    db.prepare("INSERT OR REPLACE INTO segments (id, ord) VALUES (?, ?)").run(id, next.segments.length - 1);
    local.setMeta("dbId", next.dbId);
    local.setMeta("etag", etag);
    local.setMeta("manifest", JSON.stringify(next));
  });
}

/**
 * Compact: read every segment, keep the newest version of each key (tombstones dropped), write them as one
 * segment and swap the manifest conditionally. The old segments are retired; retired segments older than
 * `graceMs`, and orphans of failed pushes older than `graceMs`, are deleted. Memory: the live values are held
 * in memory while the new segment is built.
 */
/** @internal */
export async function compact(
  ctx: SyncContext,
  options: { graceMs?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<CompactResult> {
  const { remote } = ctx;
  const { signal } = options;
  const graceMs = options.graceMs ?? ctx.graceMs;
  const start = remote.requests;
  for (let attempt = 0; attempt < MAX_PUSH_ATTEMPTS; attempt++) {
    signal?.throwIfAborted();
    const fetched = await readManifest(remote, { signal });
    if (fetched === undefined || fetched === "notModified") {
      return {
        segmentsBefore: 0,
        segmentsAfter: 0,
        liveKeys: 0,
        droppedEntries: 0,
        deletedObjects: 0,
        requests: remote.requests - start,
      };
    }
    checkCodec(ctx, fetched.manifest);
    // Before any write: the manifest swap is as unsafe as a push's where conditional PutObject is ignored.
    if (attempt === 0) await assertSafeToPush(remote, signal, "compact");
    const m = fetched.manifest;
    const footers = await readFooters(ctx, m.segments, signal);
    const latest = new Map<string, { entry: SegmentEntry; segment: SegmentRef }>();
    let total = 0;
    for (const segment of m.segments) {
      for (const entry of footers.get(segment.id) ?? []) {
        latest.set(entry.key, { entry, segment });
        total++;
      }
    }
    const live = [...latest.values()].filter((x) => !x.entry.tombstone);
    const now = Date.now();
    const retiredAll = [...m.retired, ...m.segments.map((s) => ({ key: s.key, retiredAt: now }))];
    const keep = retiredAll.filter((r) => now - r.retiredAt < graceMs);
    const expired = retiredAll.filter((r) => now - r.retiredAt >= graceMs).map((r) => r.key);
    const nothingToDo = m.segments.length <= 1 && live.length === total;
    let nextSegments: SegmentRef[] = m.segments;
    let newEntries: SegmentEntry[] = [];
    let newSegment: SegmentRef | undefined;
    if (!nothingToDo) {
      // Read each segment that still holds live values once, whole; check every value's CRC on the way.
      const bySegment = new Map<string, { entry: SegmentEntry; segment: SegmentRef }[]>();
      for (const x of live) {
        const list = bySegment.get(x.segment.id) ?? [];
        list.push(x);
        bySegment.set(x.segment.id, list);
      }
      const values = new Map<string, Uint8Array>();
      const limit = createLimit(FOOTER_CONCURRENCY);
      await Promise.all(
        [...bySegment.values()].map((list) =>
          limit(async () => {
            const segment = list[0]!.segment;
            const body = Buffer.from(await readRange(remote, segment.key, undefined, signal));
            for (const { entry } of list) {
              const value = body.subarray(entry.offset, entry.offset + entry.length);
              if (value.length !== entry.length || valueCrc(value) !== entry.crc) {
                throw new KvError(
                  "kv.integrity",
                  `The value of key ${JSON.stringify(entry.key)} in ${remote.url}${segment.key} fails its checksum; compaction stopped, nothing was changed.`,
                  { keys: [entry.key] },
                );
              }
              values.set(entry.key, value);
            }
          }),
        ),
      );
      const items: PackEntry[] = live
        .map((x) => ({ key: x.entry.key, ts: x.entry.ts, value: values.get(x.entry.key)! }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const packed = packSegment(items);
      newSegment = await uploadSegment(remote, packed, signal);
      newEntries = packed.entries;
      nextSegments = [newSegment];
    }
    const next: Manifest = nothingToDo
      ? {
          ...m,
          generation: m.generation + 1,
          updatedAt: new Date(now).toISOString(),
          retired: m.retired.filter((r) => now - r.retiredAt < graceMs),
        }
      : {
          ...m,
          generation: m.generation + 1,
          updatedAt: new Date(now).toISOString(),
          segments: nextSegments,
          retired: keep,
        };
    const toDelete = nothingToDo ? m.retired.filter((r) => now - r.retiredAt >= graceMs).map((r) => r.key) : expired;
    let etag: string;
    try {
      etag = await putObject(remote, MANIFEST_KEY, serializeManifest(next), {
        contentType: "application/json",
        ifMatch: fetched.etag,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (isObjectStoreError(error, "preconditionFailed")) {
        if (newSegment) await deleteQuietly(remote, [newSegment.key]);
        continue;
      }
      // Outcome unknown (the swap may have landed): keep the new segment; an unreferenced one is swept later.
      throw remoteError(remote, "replace the manifest", error, signal);
    }
    let deletedObjects = await deleteQuietly(remote, toDelete);
    deletedObjects += await sweepOrphans(ctx, next, graceMs, now, signal);
    // Bring the local file up to date with the compacted remote without reading the new footer again.
    if (ctx.local.getMeta("replace") !== "1") {
      const conflicts: Conflict[] = [];
      const seen = new Set(ctx.local.db.prepare("SELECT id FROM segments").pluck().all() as string[]);
      const unseenOld = m.segments.filter((s) => !seen.has(s.id));
      // Only when this replica had seen every compacted segment: then no entry of the new one is news to it.
      // Otherwise the next pull reads the new footer and settles what is new as usual.
      if (unseenOld.length === 0 && ctx.local.getMeta("dbId") === m.dbId) {
        applyManifest(
          ctx,
          { manifest: next, etag },
          newSegment ? new Map([[newSegment.id, newEntries]]) : new Map(),
          ctx.onConflict,
          conflicts,
        );
      }
    }
    return {
      segmentsBefore: m.segments.length,
      segmentsAfter: next.segments.length,
      liveKeys: live.length,
      droppedEntries: total - live.length,
      deletedObjects,
      requests: remote.requests - start,
    };
  }
  throw new KvError(
    "kv.remote",
    `Compaction of ${remote.url} gave up after ${MAX_PUSH_ATTEMPTS} attempts: other writers keep replacing the manifest; try again.`,
  );
}

/** Delete segment objects that no manifest names (a push killed between its two PUTs), once older than the grace period. */
async function sweepOrphans(
  ctx: SyncContext,
  manifest: Manifest,
  graceMs: number,
  now: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const known = new Set([...manifest.segments.map((s) => s.key), ...manifest.retired.map((r) => r.key)]);
  const orphans: string[] = [];
  ctx.remote.requests++;
  try {
    for await (const entry of ctx.remote.store.list({ prefix: SEGMENTS_PREFIX, ...(signal ? { signal } : {}) })) {
      if (entry.kind !== "object" || known.has(entry.key)) continue;
      if (now - entry.lastModified.getTime() >= Math.max(graceMs, ORPHAN_MIN_AGE_MS)) orphans.push(entry.key);
    }
  } catch (error) {
    ctx.remote.logger.warn("kv: could not list segments to sweep orphans", { error: (error as Error).message });
    return 0;
  }
  return deleteQuietly(ctx.remote, orphans);
}
