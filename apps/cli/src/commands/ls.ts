import { stat } from "node:fs/promises";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { Args, Flags } from "@oclif/core";
import {
  createS3Client,
  formatLocation,
  type ListEntry,
  type Location,
  ObjectStoreError,
  openObjectStore,
  parseLocationOrPath,
  type SkippedEntry,
} from "@toolkit/shared";
import { BaseCommand, printable } from "../base-command.ts";
import { formatBytes } from "../progress-bar.ts";

/** One row of `ls --json`. */
export type LsEntry =
  | { kind: "prefix"; prefix: string }
  | { kind: "object"; key: string; size: number; etag: string; lastModified: string; storageClass?: string };

export interface LsResult {
  /** The location listed, normalised (`s3://bucket/prefix/` or `file:///dir`). */
  location: string;
  recursive: boolean;
  entries: LsEntry[];
  objects: number;
  prefixes: number;
  totalBytes: number;
  /** `file://` only: entries left out because they are not plain files or folders (links are never followed). */
  skipped: SkippedEntry[];
}

export interface LsBucketsResult {
  buckets: { name: string; creationDate?: string }[];
}

function toJsonEntry(entry: ListEntry): LsEntry {
  if (entry.kind === "prefix") return entry;
  return {
    kind: "object",
    key: entry.key,
    size: entry.size,
    etag: entry.etag,
    lastModified: entry.lastModified.toISOString(),
    ...(entry.storageClass ? { storageClass: entry.storageClass } : {}),
  };
}

function formatDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = "List objects and prefixes at an s3:// or file:// location (or the buckets)";
  static override description = [
    'Lists what is directly under the location, one folder level at a time (delimiter "/"): objects with their size and date, and sub-prefixes as PRE lines. --recursive lists every object below instead.',
    "The location is always a folder: s3://bucket/photos lists the keys under photos/. Without a location, lists the buckets of the endpoint.",
    "Human output streams as pages arrive; --json collects the whole listing and prints one object { location, recursive, entries, objects, prefixes, totalBytes, skipped }.",
    "Listing only reads: in a file:// folder it writes nothing. Symbolic links, FIFOs and devices there are never followed or opened; they are skipped and counted on stderr (and in skipped with --json). Control characters in keys are printed escaped (\\x1b, \\n).",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> ls s3://my-bucket/photos/",
    "<%= config.bin %> ls s3://my-bucket/photos --recursive --json",
    "<%= config.bin %> ls ./backup",
    "<%= config.bin %> ls file:///srv/data --recursive",
    "<%= config.bin %> ls --endpoint-url http://127.0.0.1:9000",
  ];
  static override args = {
    location: Args.string({
      description: "s3://bucket/prefix, file:///abs/dir or a local path; omit to list buckets",
      required: false,
    }),
  };
  static override flags = {
    recursive: Flags.boolean({ char: "r", description: "List every object below the location, not just one level" }),
    "human-readable": Flags.boolean({ description: "Sizes as KiB/MiB/GiB instead of bytes" }),
  };

  async run(): Promise<LsResult | LsBucketsResult> {
    if (this.args.location === undefined) return this.listBuckets();
    const location = parseLocationOrPath(this.args.location);
    await assertDirectoryExists(location);
    const skipped: SkippedEntry[] = [];
    const store = openObjectStore(location, {
      ...this.clientOptions(),
      logger: this.logger,
      concurrency: 1,
      onSkippedEntry: (entry) => skipped.push(entry),
    });
    const url = formatLocation(location);
    const json = this.jsonEnabled();
    const recursive = this.flags.recursive;
    const entries: LsEntry[] = [];
    let objects = 0;
    let prefixes = 0;
    let totalBytes = 0;
    try {
      const listing = store.list({ ...(recursive ? {} : { delimiter: "/" }), signal: this.signal });
      for await (const entry of this.abortable(listing)) {
        if (entry.kind === "object") {
          objects++;
          totalBytes += entry.size;
        } else {
          prefixes++;
        }
        if (json) entries.push(toJsonEntry(entry));
        else this.log(this.formatRow(entry));
      }
    } finally {
      await store.close();
    }
    if (!json && objects + prefixes === 0) this.note(`(nothing under ${url})`);
    if (skipped.length > 0) {
      const shown = skipped.slice(0, 5).map((e) => printable(e.path));
      const more = skipped.length > shown.length ? `, and ${skipped.length - shown.length} more` : "";
      const links = skipped.filter((e) => e.reason === "symbolicLink").length;
      this.note(
        `skipped ${skipped.length} ${skipped.length === 1 ? "entry" : "entries"} that ${skipped.length === 1 ? "is" : "are"} not a plain file or folder ` +
          `(${links} symbolic link${links === 1 ? "" : "s"}, never followed): ${shown.join(", ")}${more}`,
      );
    }
    return { location: url, recursive, entries, objects, prefixes, totalBytes, skipped };
  }

  private formatRow(entry: ListEntry): string {
    if (entry.kind === "prefix") return `${"PRE".padStart(19 + 1 + 12)} ${printable(entry.prefix)}`;
    const size = this.flags["human-readable"] ? formatBytes(entry.size) : String(entry.size);
    return `${formatDate(entry.lastModified)} ${size.padStart(12)} ${printable(entry.key)}`;
  }

  private async listBuckets(): Promise<LsBucketsResult> {
    const client = createS3Client({ ...this.clientOptions(), logger: this.logger, concurrency: 1 });
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html
      const out = await client.send(new ListBucketsCommand({}), { abortSignal: this.signal });
      const buckets = (out.Buckets ?? []).map((b) => ({
        name: b.Name ?? "",
        ...(b.CreationDate ? { creationDate: b.CreationDate.toISOString() } : {}),
      }));
      for (const b of buckets) {
        this.log(`${b.creationDate ? formatDate(new Date(b.creationDate)) : "".padEnd(19)} s3://${b.name}/`);
      }
      return { buckets };
    } catch (error) {
      if (this.signal.aborted) throw this.signal.reason;
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new ObjectStoreError(
        status === 403 ? "accessDenied" : status === undefined ? "network" : "unknown",
        `ListBuckets failed: ${e.name ?? "error"}${e.message && e.message !== e.name ? `: ${e.message}` : ""}; ` +
          "check the endpoint, region and credentials (run `s3kit doctor`).",
        { cause: error },
      );
    } finally {
      client.destroy();
    }
  }
}

/** A file:// location that does not exist is a typo far more often than an empty store: say so. */
async function assertDirectoryExists(location: Location): Promise<void> {
  if (location.kind !== "file") return;
  const info = await stat(location.root).catch(() => undefined);
  if (!info) {
    throw new ObjectStoreError("notFound", `No such directory: ${location.root}. Check the path.`);
  }
  if (!info.isDirectory()) {
    throw new ObjectStoreError(
      "invalidLocation",
      `${location.root} is a file, not a directory; a location names a folder of objects.`,
    );
  }
}
