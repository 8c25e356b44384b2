import { Args } from "@oclif/core";
import { BaseCommand } from "../base-command.ts";

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = "List objects and prefixes at a location";
  static override args = {
    location: Args.string({ required: true, description: "s3://bucket/prefix, file:///dir or a path" }),
  };
  async run() {
    return { location: this.args.location };
  }
}
