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
