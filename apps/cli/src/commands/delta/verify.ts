import { Args } from "@oclif/core";
import { DeltaError, type VerifyResult } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import { openDeltaStore, parseTarget } from "../../topics/delta.ts";

export default class DeltaVerify extends BaseCommand<typeof DeltaVerify> {
  static override summary = "Rebuild a stored file in memory-bounded streams and check its SHA-256";
  static override description =
    "Exit 0 when the file rebuilds to its recorded SHA-256, 1 (code delta.integrity) when not.";
  static override examples = ["<%= config.bin %> delta verify s3://my-bucket/releases/app/app-1.2.0.zip"];
  static override args = { url: Args.string({ description: "s3://bucket/key or file:///dir/key", required: true }) };

  async run(): Promise<VerifyResult> {
    const target = parseTarget(this.args.url, true);
    const store = openDeltaStore(target.location, this.clientOptions(), this.logger);
    try {
      const result = await store.verify(target.path, { signal: this.signal });
      if (!result.valid) {
        throw new DeltaError(
          "delta.integrity",
          `${store.url}${target.path} is corrupt: ${(result.error ?? "SHA-256 mismatch").replace(/\.+$/, "")}.`,
        );
      }
      this.log(
        `ok: ${store.url}${target.path} (${result.kind}${result.engine ? `, ${result.engine}` : ""}, SHA-256 ${result.actualSha256})`,
      );
      return result;
    } finally {
      await store.close();
    }
  }
}
