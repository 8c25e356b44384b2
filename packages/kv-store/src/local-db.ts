import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { KvError } from "./errors.ts";

/** Marks a SQLite file as ours (PRAGMA application_id, "S3KV"). */
const APPLICATION_ID = 0x53334b56;
const LOCAL_SCHEMA_VERSION = 1;
/** Wait this long for another process's write transaction before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

/** One key's local state. `r_*` describe the remote version (NULL when the remote does not have the key). */
export interface Row {
  key: string;
  /** Encoded value; NULL when not fetched yet or deleted. */
  value: Buffer | null;
  /** 1 when `value` holds the current value. */
  present: number;
  /** Modification time of the current version, µs. */
  ts: number;
  /** 1 for a pending local delete (a tombstone, only while dirty). */
  deleted: number;
  /** 1 when the local version differs from the remote one (a push will send it). */
  dirty: number;
  /** Local write counter: a push marks a key clean only if it was not written again meanwhile. */
  rev: number;
  r_seg: string | null;
  r_off: number | null;
  r_len: number | null;
  r_crc: number | null;
  r_ts: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY NOT NULL,
  value BLOB,
  present INTEGER NOT NULL DEFAULT 0,
  ts INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  dirty INTEGER NOT NULL DEFAULT 0,
  rev INTEGER NOT NULL DEFAULT 0,
  r_seg TEXT, r_off INTEGER, r_len INTEGER, r_crc INTEGER, r_ts INTEGER
);
CREATE INDEX IF NOT EXISTS kv_dirty ON kv(key) WHERE dirty = 1;
CREATE TABLE IF NOT EXISTS segments (id TEXT PRIMARY KEY NOT NULL, ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY NOT NULL, v TEXT NOT NULL);
`;

/** True for SQLite's "the file is damaged" errors (SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB). */
export function isSqliteCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^SQLITE_(?:CORRUPT|NOTADB)(?:_|$)/.test(code);
}

/**
 * The `kv.corruptLocal` error for a damaged local file: names the file and the way out. With a remote, the
 * file is only a replica, so deleting it and opening again pulls the data back; only unpushed changes are lost.
 */
export function corruptLocalError(path: string, remote: string | undefined, cause: unknown): KvError {
  const code = (cause as { code?: unknown } | null)?.code;
  const reason = `${typeof code === "string" ? `${code}: ` : ""}${cause instanceof Error ? cause.message : String(cause)}`;
  const fix = remote
    ? `delete it (or move it aside) and open it again: the data is pulled back from ${remote} (\`s3kit kv pull\`); changes not pushed yet are lost`
    : "restore it from a backup (it has no remote to pull from), or delete it to start empty";
  return new KvError("kv.corruptLocal", `The local database ${path} is damaged (${reason}); ${fix}.`, { cause });
}

/**
 * The local SQLite file (WAL, so several processes can read and write it at once) and its prepared statements.
 * @internal Not part of the published types (they must not need better-sqlite3's types).
 */
export class LocalDb {
  readonly db: Database.Database;
  readonly path: string;
  /** The remote this file replicates, for the fix named in a `kv.corruptLocal` message. */
  readonly remote: string | undefined;
  readonly getRow: Database.Statement<[string], Row>;
  readonly upsertValue: Database.Statement<[string, Uint8Array, number]>;
  readonly updateDirtyValue: Database.Statement<[Uint8Array, number, string]>;
  readonly getHot: Database.Statement<[string], [Buffer | null, number, number]>;
  readonly markDeleted: Database.Statement<[number, string]>;
  readonly deleteRow: Database.Statement<[string]>;
  readonly dirtyRows: Database.Statement<[], Row>;
  readonly count: Database.Statement<[], { n: number }>;
  readonly storeFetched: Database.Statement<[Uint8Array, string, string, number]>;
  readonly #getMeta: Database.Statement<[string], { v: string }>;
  readonly #setMeta: Database.Statement<[string, string]>;

  constructor(path: string, options: { create: boolean; remote?: string | undefined }) {
    this.path = path;
    this.remote = options.remote;
    const existed = path === ":memory:" || existsSync(path);
    if (!existed && !options.create) {
      throw new KvError(
        "kv.notFound",
        `The local database ${path} does not exist; open it with flag "c" to create it.`,
      );
    }
    let opened: Database.Database | undefined;
    try {
      opened = new Database(path, { fileMustExist: !options.create });
      this.db = opened;
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.db.pragma("journal_mode = WAL");
      // NORMAL in WAL mode: a commit is durable at the next checkpoint, never corrupt (https://sqlite.org/wal.html).
      this.db.pragma("synchronous = NORMAL");
      const appId = this.db.pragma("application_id", { simple: true }) as number;
      const tables = this.db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number };
      if (appId !== APPLICATION_ID) {
        if (tables.n > 0) {
          throw new KvError(
            "kv.corruptLocal",
            `${path} is a SQLite file of another application; choose another path for the kv database.`,
          );
        }
        this.db.exec("BEGIN IMMEDIATE");
        try {
          this.db.exec(SCHEMA);
          this.db.pragma(`application_id = ${APPLICATION_ID}`);
          this.db.pragma(`user_version = ${LOCAL_SCHEMA_VERSION}`);
          this.db.exec("COMMIT");
        } catch (error) {
          this.db.exec("ROLLBACK");
          throw error;
        }
      } else {
        const version = this.db.pragma("user_version", { simple: true }) as number;
        if (version > LOCAL_SCHEMA_VERSION) {
          throw new KvError(
            "kv.unsupportedFormat",
            `${path} was written by a newer @toolkit/kv-store (local schema ${version}); upgrade the package.`,
          );
        }
        this.db.exec(SCHEMA);
      }
    } catch (error) {
      try {
        opened?.close();
      } catch {}
      if (error instanceof KvError) throw error;
      if (isSqliteCorruption(error)) throw corruptLocalError(path, options.remote, error);
      throw new KvError("kv.corruptLocal", `Cannot open the local database ${path}: ${(error as Error).message}.`, {
        cause: error,
      });
    }
    const db = this.db;
    this.getRow = db.prepare("SELECT * FROM kv WHERE key = ?");
    // A local write bumps its timestamp past the remote version's, so "newest" favours it even with a skewed clock.
    this.upsertValue = db.prepare(`INSERT INTO kv (key, value, present, ts, deleted, dirty, rev)
      VALUES (?, ?, 1, ?, 0, 1, 1)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, present = 1, deleted = 0, dirty = 1, rev = rev + 1,
        ts = max(excluded.ts, coalesce(r_ts + 1, 0))`);
    // The hot path for a key already dirty: leaves the `dirty` column (and so the partial index) untouched,
    // which halves the pages a commit writes. `set` falls back to `upsertValue` when it changes nothing.
    this.updateDirtyValue = db.prepare(`UPDATE kv SET value = ?, present = 1, rev = rev + 1,
        ts = max(?, coalesce(r_ts + 1, 0)) WHERE key = ? AND dirty = 1 AND deleted = 0`);
    this.getHot = db.prepare<[string], [Buffer | null, number, number]>(
      "SELECT value, present, deleted FROM kv WHERE key = ?",
    );
    (this.getHot as unknown as { raw(toggle: boolean): void }).raw(true);
    this.markDeleted = db.prepare(`UPDATE kv SET value = NULL, present = 0, deleted = 1, dirty = 1, rev = rev + 1,
        ts = max(?, coalesce(r_ts + 1, 0)) WHERE key = ?`);
    this.deleteRow = db.prepare("DELETE FROM kv WHERE key = ?");
    this.dirtyRows = db.prepare("SELECT * FROM kv WHERE dirty = 1 ORDER BY key");
    this.count = db.prepare("SELECT count(*) AS n FROM kv WHERE deleted = 0");
    this.storeFetched = db.prepare(
      "UPDATE kv SET value = ?, present = 1 WHERE key = ? AND dirty = 0 AND r_seg = ? AND r_off = ?",
    );
    this.#getMeta = db.prepare("SELECT v FROM meta WHERE k = ?");
    this.#setMeta = db.prepare("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v");
  }

  /**
   * `error` as thrown to a caller: SQLite's corruption errors (the file damaged after it was opened) become
   * `kv.corruptLocal` naming the file and the fix; anything else is returned unchanged.
   */
  mapError(error: unknown): unknown {
    return isSqliteCorruption(error) ? corruptLocalError(this.path, this.remote, error) : error;
  }

  /** Write a value as a local change (a transaction of its own unless inside one). */
  writeValue(key: string, bytes: Uint8Array, ts: number): void {
    if (this.updateDirtyValue.run(bytes, ts, key).changes === 0) this.upsertValue.run(key, bytes, ts);
  }

  getMeta(key: string): string | undefined {
    return this.#getMeta.get(key)?.v;
  }

  setMeta(key: string, value: string | undefined): void {
    if (value === undefined) this.db.prepare("DELETE FROM meta WHERE k = ?").run(key);
    else this.#setMeta.run(key, value);
  }

  /** Run `fn` in a write transaction (BEGIN IMMEDIATE, so two processes never interleave a read-modify-write). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * The remote URL a local database file is a replica of, or `undefined` (no such file, or local only).
 * Reads the file without changing it; for tools that remember the remote (the CLI).
 */
export function remoteOfLocalFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    if ((db.pragma("application_id", { simple: true }) as number) !== APPLICATION_ID) return undefined;
    const row = db.prepare("SELECT v FROM meta WHERE k = 'remote'").get() as { v: string } | undefined;
    return row?.v;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}
