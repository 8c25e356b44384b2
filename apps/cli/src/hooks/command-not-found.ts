import type { Hook } from "@oclif/core";
import { ExitCode } from "../exit-codes.ts";

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** An unknown command is a usage error: one `error:` line (or JSON with --json), a suggestion, exit 2. */
const hook: Hook.CommandNotFound = async function (options) {
  const { config } = options;
  const separator = config.topicSeparator;
  // With a space separator oclif folds arguments into the id (`lss:x`): name only the unknown word.
  const segments = options.id.split(":");
  const topicNames = new Set(config.topics.map((t) => t.name));
  let known = 0;
  while (known < segments.length - 1 && topicNames.has(segments.slice(0, known + 1).join(":"))) known++;
  const unknownId = segments.slice(0, known + 1).join(":");
  const siblings = [...config.commandIDs, ...topicNames].filter(
    (id) => id.split(":").length === known + 1 && id.startsWith(segments.slice(0, known).join(":")),
  );
  const best = siblings
    .map((id) => ({ id, d: distance(unknownId, id) }))
    .sort((a, b) => a.d - b.d)
    .find((c) => c.d <= Math.max(2, Math.floor(unknownId.length / 3)));
  const suggestion = best ? ` Did you mean \`${config.bin} ${best.id.replaceAll(":", separator)}\`?` : "";
  const message = `unknown command \`${config.bin} ${unknownId.replaceAll(":", separator)}\`.${suggestion} Run \`${config.bin} --help\` for the list.`;
  if ((options.argv ?? []).includes("--json")) {
    process.stdout.write(`${JSON.stringify({ error: { code: "usage", message } }, null, 2)}\n`);
  } else {
    process.stderr.write(`error: ${message}\n`);
  }
  this.exit(ExitCode.usage);
};

export default hook;
