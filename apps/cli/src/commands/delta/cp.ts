import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Args, Flags } from "@oclif/core";
import type { PutResult } from "@toolkit/delta-store";
import { DeltaError } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import { checkDestinationFolder, checkSource } from "../../preflight.ts";
import {
  formatBytes,
  isStoreUrl,
  openDeltaStore,
  orderedFilters,
  parseTarget,
  ratioFlag,
  transferFlags,
} from "../../topics/delta.ts";

export default class DeltaCp extends BaseCommand<typeof DeltaCp> {
  static override summary = "Copy files into or out of a delta store (aws s3 cp syntax)";
  static override description = [
    "Upload: the first file of a folder (deltaspace) becomes its reference.bin; later files are stored as <name>.delta against it when the delta is at most --max-ratio of the file, else directly. A destination ending in / keeps the local file name.",
    "Download: the file is rebuilt into a temp file, checked against its SHA-256, and only then renamed into place.",
    "--recursive copies a folder: every file below <src> (filtered by --exclude/--include, later rules win); a file whose SHA-256 already matches the destination is skipped.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> delta cp ./app-1.2.0.zip s3://my-bucket/releases/app/",
    "<%= config.bin %> delta cp s3://my-bucket/releases/app/app-1.2.0.zip ./out.zip",
    "<%= config.bin %> delta cp ./dist s3://my-bucket/releases/app/ --recursive --exclude '*.map'",
  ];
  static override args = {
    src: Args.string({ description: "Local path or s3://bucket/key (file:///…)", required: true }),
    dst: Args.string({ description: "s3://bucket/key-or-prefix/ or local path", required: true }),
  };
  static override flags = {
    ...transferFlags,
    recursive: Flags.boolean({ char: "r", description: "Copy a whole folder" }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = this;
    const upload = !isStoreUrl(args.src) && isStoreUrl(args.dst);
    const download = isStoreUrl(args.src) && !isStoreUrl(args.dst);
    if (!upload && !download) {
      throw new DeltaError(
        "delta.invalidOptions",
        "cp needs one local path and one s3:// (or file://) URL, e.g. `s3kit delta cp ./a.zip s3://bucket/releases/`.",
      );
    }
    const dryRun = flags.dryrun || flags["dry-run"];
    const storeFlags = {
      "max-ratio": ratioFlag(flags["max-ratio"]),
      engine: flags.engine,
      "no-delta": flags["no-delta"],
    };
    if (flags.recursive) {
      // Before the first transfer: a missing source folder, or a destination folder that is a file.
      if (upload) await checkSource(args.src, "folder", "give a folder to copy with --recursive.");
      else await checkDestinationFolder(args.dst, "copy");
      const remote = parseTarget(upload ? args.dst : args.src, false);
      const store = openDeltaStore(remote.location, this.clientOptions(), this.logger, storeFlags);
      try {
        // Absolute, so the library reads it as the local side of the sync.
        const local = resolve(upload ? args.src : args.dst);
        // cp -r walks like sync (without --delete); identical files are skipped, which changes no outcome.
        const result = await store.sync(upload ? local : remote.path, upload ? remote.path : local, {
          filters: orderedFilters(this.argv),
          dryRun,
          signal: this.signal,
          onProgress: this.progress,
        });
        for (const key of result.transferred)
          this.log(`${dryRun ? "(dryrun) " : ""}${upload ? "upload" : "download"}: ${key}`);
        for (const warning of result.warnings) this.note(`warning: ${warning}`);
        if (result.failed.length > 0) {
          return this.partial(
            result,
            `${result.failed.length} of ${result.transferred.length + result.failed.length} files failed`,
          );
        }
        return result;
      } finally {
        await store.close();
      }
    }

    if (upload) {
      await checkSource(args.src, "any", "give a file to copy (or a folder with --recursive).");
      const info = await stat(args.src).catch(() => undefined);
      if (!info?.isFile()) {
        throw new DeltaError("delta.invalidOptions", `${args.src} is not a file; use --recursive to copy a folder.`);
      }
      const target = parseTarget(args.dst, true);
      const key = args.dst.endsWith("/") || target.path === "" ? `${target.path}${basename(args.src)}` : target.path;
      const location =
        args.dst.startsWith("file://") && args.dst.endsWith("/") ? args.dst.replace(/\/+$/, "") : target.location;
      const store = openDeltaStore(location, this.clientOptions(), this.logger, storeFlags);
      try {
        if (dryRun) {
          this.log(`(dryrun) upload: ${args.src} to ${store.url}${key}`);
          return { dryRun: true, key, bytes: info.size };
        }
        const result: PutResult = await store.put(args.src, key, { signal: this.signal, onProgress: this.progress });
        this.log(
          `upload: ${args.src} to ${store.url}${key} (${result.stored}${result.engine && result.stored !== "direct" ? `, ${result.engine}` : ""}, ${formatBytes(result.fileBytes)} → ${formatBytes(result.storedBytes)} stored${result.reason ? `, ${result.reason}` : ""})`,
        );
        // Why it was stored directly, or that an asked-for engine mixes formats in the deltaspace.
        if (result.detail) this.note(`note: ${result.detail}`);
        return { ...result, warnings: [...store.warnings] };
      } finally {
        // Once, also when the put failed: e.g. conditional writes checked with a HEAD first (issue 17).
        for (const warning of store.warnings) this.note(`warning: ${warning}`);
        await store.close();
      }
    }

    const target = parseTarget(args.src, true);
    const destInfo = await stat(args.dst).catch(() => undefined);
    const dest = destInfo?.isDirectory() || args.dst.endsWith("/") ? join(args.dst, basename(target.path)) : args.dst;
    const store = openDeltaStore(target.location, this.clientOptions(), this.logger);
    try {
      if (dryRun) {
        this.log(`(dryrun) download: ${store.url}${target.path} to ${dest}`);
        return { dryRun: true, key: target.path, path: dest };
      }
      const result = await store.get(target.path, dest, { signal: this.signal, onProgress: this.progress });
      this.log(
        `download: ${store.url}${target.path} to ${dest} (${formatBytes(result.bytes)}, ${result.kind}, SHA-256 ${result.sha256Verified ? "verified" : "not recorded"})`,
      );
      return result;
    } finally {
      await store.close();
    }
  }
}
