import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes, type LsRow, openDeltaStore, parseTarget, printableKey } from "../../topics/delta.ts";

export default class DeltaLs extends BaseCommand<typeof DeltaLs> {
  static override summary = "List files in a delta store (real sizes; reference.bin hidden)";
  static override description =
    "A prefix is always a folder: `ls s3://b/app` lists app/, never app-old/. Without --recursive sub-folders show as PRE lines.";
  static override examples = [
    "<%= config.bin %> delta ls s3://my-bucket/releases/app/",
    "<%= config.bin %> delta ls s3://my-bucket/releases --recursive --human-readable --summarize",
  ];
  static override args = { url: Args.string({ description: "s3://bucket/prefix or file:///dir", required: true }) };
  static override flags = {
    recursive: Flags.boolean({ char: "r", description: "List sub-folders too" }),
    "human-readable": Flags.boolean({ char: "h", description: "Sizes as KiB/MiB/GiB" }),
    summarize: Flags.boolean({ description: "Print the number of files and their total size" }),
  };

  async run(): Promise<{
    files: LsRow[];
    totalBytes: number;
    totalStoredBytes: number;
    failed: { key: string; error: string }[];
  }> {
    const target = parseTarget(this.args.url, false);
    const store = openDeltaStore(target.location, this.clientOptions(), this.logger);
    const files: LsRow[] = [];
    const failed: { key: string; error: string }[] = [];
    let totalBytes = 0;
    let totalStoredBytes = 0;
    const size = (n: number) => (this.flags["human-readable"] ? formatBytes(n) : String(n));
    try {
      for await (const entry of this.abortable(
        store.list(target.path, { recursive: this.flags.recursive === true, signal: this.signal }),
      )) {
        if (entry.kind === "folder") {
          files.push({ key: entry.key, kind: "folder" });
          this.log(`${"PRE".padStart(32)} ${printableKey(entry.key)}`);
          continue;
        }
        if (entry.problem) {
          // Corrupt or hostile metadata: one failed entry, reported; the listing goes on.
          failed.push({ key: entry.key, error: entry.problem });
          this.note(`error: ${printableKey(entry.key)}: ${printableKey(entry.problem)}`);
          continue;
        }
        totalBytes += entry.size;
        totalStoredBytes += entry.storedSize;
        files.push({
          key: entry.key,
          kind: entry.kind,
          size: entry.size,
          storedSize: entry.storedSize,
          lastModified: entry.lastModified.toISOString(),
        });
        this.log(
          `${entry.lastModified.toISOString().slice(0, 19).replace("T", " ")} ${size(entry.size).padStart(12)} ${printableKey(entry.key)}`,
        );
      }
    } finally {
      await store.close();
    }
    if (this.flags.summarize) {
      this.log(`\nTotal Objects: ${files.filter((f) => f.kind !== "folder").length}`);
      this.log(`   Total Size: ${size(totalBytes)} (stored ${size(totalStoredBytes)})`);
    }
    const result = { files, totalBytes, totalStoredBytes, failed };
    if (failed.length > 0) {
      return this.partial(result, `${failed.length} listed file(s) have corrupt or hostile metadata (see above)`);
    }
    return result;
  }
}
