import { Flags } from "@oclif/core";

/** The flags every `s3kit kv` command takes: which local file, which remote, which codec. */
export const dbFlags = {
  db: Flags.string({ description: "Local database file (SQLite)", required: true, helpValue: "<path>" }),
  remote: Flags.string({
    description: "Remote location: s3://bucket/prefix or file:///abs/dir (remembered in the local file)",
    helpValue: "<location>",
  }),
  codec: Flags.string({ description: "Value codec", options: ["json", "string"], default: "json" }),
};
