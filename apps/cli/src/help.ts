import { type Command, Help, type Interfaces } from "@oclif/core";

/**
 * Root help that lists every topic declared in package.json `oclif.topics` (oclif's default hides a topic
 * until it has commands), the root commands, and an EXAMPLES section with the first example of each.
 */
export default class S3kitHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    const commands = this.sortedCommands.filter((c) => c.id && !c.id.includes(":"));
    const commandIds = new Set(commands.map((c) => c.id));
    const declared = this.config.pjson.oclif?.topics ?? {};
    const topics = this.config.topics
      .filter((t) => !t.hidden && !t.name.includes(":"))
      .filter((t) => {
        const hasChildren = this.config.commands.some((c) => c.id.startsWith(`${t.name}:`));
        // A topic that is only a command (no sub-commands) is listed under COMMANDS instead.
        return hasChildren || (t.name in declared && !commandIds.has(t.name));
      })
      .sort((a, b) => a.name.localeCompare(b.name));

    this.log(this.formatRoot());
    this.log("");
    if (topics.length > 0) {
      this.log(this.formatTopics(topics.map((t) => ({ ...t }))));
      this.log("");
    }
    if (commands.length > 0) {
      this.log(this.formatCommands(commands.map((c) => ({ ...c }))));
      this.log("");
    }
    const examples = this.rootExamples(topics, commands);
    if (examples.length > 0) {
      this.log(this.section("EXAMPLES", examples.map((e) => `$ ${e}`).join("\n")));
      this.log("");
    }
  }

  /** A topic page (`s3kit kv`): oclif's list of commands, then EXAMPLES with the first example of each. */
  protected override async showTopicHelp(topic: Interfaces.Topic): Promise<void> {
    await super.showTopicHelp(topic);
    // Help's lists carry ids with the configured separator (`kv get`), the config's with `:`.
    const name = topic.name.replaceAll(" ", ":");
    const depth = name.split(":").length;
    const examples: string[] = [];
    for (const c of this.sortedCommands) {
      const id = c.id.replaceAll(" ", ":");
      if (!id.startsWith(`${name}:`) || id.split(":").length !== depth + 1) continue;
      const example = c.examples?.[0];
      const text = typeof example === "string" ? example : example?.command;
      if (text) examples.push(this.render(text).split("\n")[0]!);
    }
    if (examples.length > 0) {
      this.log(this.section("EXAMPLES", examples.map((e) => `$ ${e}`).join("\n")));
      this.log("");
    }
  }

  /** A command page, with a `--json` description that says what the JSON holds. */
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    const json = command.flags?.json;
    if (!json) return super.showCommandHelp(command);
    const shape = JSON_SHAPES[command.id.replaceAll(" ", ":")] ?? "the command's result object";
    const described = {
      ...command,
      flags: {
        ...command.flags,
        json: {
          ...json,
          description: `Print JSON on stdout instead of text: ${shape}. An error prints {"error":{"code","message"}}.`,
        },
      },
    } as Command.Loadable;
    return super.showCommandHelp(described);
  }

  /** The first example of each root command and of the first command (by id) of each topic. */
  private rootExamples(topics: Interfaces.Topic[], commands: Command.Loadable[]): string[] {
    const out: string[] = [];
    const firstExample = (c: Command.Loadable | undefined): string | undefined => {
      const example = c?.examples?.[0];
      const text = typeof example === "string" ? example : example?.command;
      return text ? this.render(text).split("\n")[0] : undefined;
    };
    const all = [...this.sortedCommands];
    const byName = new Map<string, string>();
    for (const t of topics) {
      const first = all.find((c) => c.id.startsWith(`${t.name}:`) && (c.examples?.length ?? 0) > 0);
      const example = firstExample(first);
      if (example) byName.set(t.name, example);
    }
    for (const c of commands) {
      const example = firstExample(c);
      if (example && !byName.has(c.id)) byName.set(c.id, example);
    }
    for (const name of [...byName.keys()].sort()) out.push(byName.get(name)!);
    return out;
  }
}

/** What each command's `--json` output holds (its result object), for the `--json` flag's help. */
const JSON_SHAPES: Readonly<Record<string, string>> = {
  ls: "{ location, entries: [{ kind, key, size, etag, lastModified }], objects, prefixes, totalBytes, skipped } (no location: the buckets)",
  doctor:
    "{ ok, problems: [...], warnings: [...], cli, node, profile, region, endpoints, credentials, s3, deltaEngines, store }",
  mb: "{ bucket, created }",
  rb: "{ bucket, removed, deletedObjects }",
  "photo-sync":
    "the summary { scanned, transferred, skipped, deleted, failed, failures: [{ path, code, message }], warnings, … } (with --dry-run: the plan { transfers, deletes, skips })",
  "photo-sync:restore":
    "the summary { scanned, transferred, skipped, deleted, failed, failures: [{ key, code, message }], warnings, … } (with --dry-run: the plan)",
  "kv:get": "{ key, value, modified }",
  "kv:set": "{ key, pending: { added, modified, deleted } }",
  "kv:delete": "{ key, deleted }",
  "kv:list": "{ keys: [...] } (with --values: { entries: { key: value } })",
  "kv:status": "{ size, added: [keys], modified: [keys], deleted: [keys] }",
  "kv:push": "{ pushed, deleted, requests, conflicts: [{ key, winner }] }",
  "kv:pull": "{ updated, deleted, requests, conflicts: [{ key, winner }] }",
  "kv:compact": "{ segmentsBefore, segmentsAfter, liveKeys, droppedEntries, deletedObjects, requests }",
  "object:get": "{ url, transferred, bytes, etag, verified, localPath }",
  "object:put": "{ url, transferred, bytes, etag, localPath, warnings: [...] }",
  "object:status": "{ status, url, localPath, local: { size }, remote: { size, etag, lastModified } }",
  "object:sync-up":
    "the summary { scanned, transferred, skipped, deleted, failed, failures: [{ key, code, message }], warnings, … } (with --dry-run: the plan)",
  "object:sync-down":
    "the summary { scanned, transferred, skipped, deleted, failed, failures: [{ key, code, message }], warnings, … } (with --dry-run: the plan)",
  "table:init": "{ table, created, addedIndexes }",
  "table:get": "the item with its id and version",
  "table:put": "the stored item with its id and version",
  "table:list": "a page { items: [...], cursor? }",
  "table:query": "a page { items: [...], cursor? }",
  "table:versions": "{ id, versions: [...] }",
  "table:restore": "the item as restored, with its new version",
  "delta:cp":
    "one file: { key, stored, engine, fileBytes, storedBytes, warnings: [...] } (download: { key, path, bytes, kind, sha256Verified }); --recursive: { direction, dryRun, transferred: [keys], skipped, deleted, failed, bytes, warnings }",
  "delta:ls": "{ files: [{ key, kind, size, storedSize, lastModified }], totalBytes, totalStoredBytes, failed: [...] }",
  "delta:rm": "{ dryRun, key, warnings: [...] } (--recursive: { dryRun, deleted: [keys], warnings })",
  "delta:sync":
    "{ direction, dryRun, transferred: [keys], skipped: [keys], deleted: [keys], failed: [{ key, code, error }], bytes, deleteBlocked?, warnings, summary: the engine's summary, plan? (with --dry-run) }",
  "delta:stats": "{ prefix, files, deltas, directs, references, originalBytes, storedBytes, savedBytes, savings }",
  "delta:verify": "{ key, valid, kind, expectedSha256, actualSha256, engine, error? }",
};
