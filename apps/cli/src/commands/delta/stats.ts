import { Args } from "@oclif/core";
import type { StatsResult } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes, openDeltaStore, parseTarget } from "../../topics/delta.ts";

export default class DeltaStats extends BaseCommand<typeof DeltaStats> {
  static override summary = "Original vs stored bytes and the savings under a prefix";
  static override examples = [
    "<%= config.bin %> delta stats s3://my-bucket/releases/",
    "<%= config.bin %> delta stats s3://my-bucket/releases/app/ --json",
  ];
  static override args = { url: Args.string({ description: "s3://bucket/prefix or file:///dir", required: true }) };

  async run(): Promise<StatsResult> {
    const target = parseTarget(this.args.url, false);
    const store = openDeltaStore(target.location, this.clientOptions(), this.logger);
    try {
      const s = await store.stats(target.path, { signal: this.signal });
      this.log(`files:      ${s.files} (${s.deltas} deltas, ${s.directs} direct) in ${s.references} deltaspaces`);
      this.log(`original:   ${formatBytes(s.originalBytes)}`);
      this.log(`stored:     ${formatBytes(s.storedBytes)}`);
      this.log(`saved:      ${formatBytes(Math.max(0, s.savedBytes))} (${(s.savings * 100).toFixed(1)}%)`);
      return s;
    } finally {
      await store.close();
    }
  }
}
