// Summarise V8 CPU profiles (`node --cpu-prof`): self time per function and per area, highest first.
//   node packages/shared/bench/top-costs.mjs <file.cpuprofile>... [--top 15]
// Also inclusive time by phase: loading modules (Node's module loader on the stack), the sync engine's plan and
// apply, and the rest (oclif, output, the event loop's own work).
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const args = process.argv.slice(2);
const topIndex = args.indexOf("--top");
const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 15;

/** Where a function lives, in a few words: our code, the SDK, node internals, or the engine. */
function areaOf(frame) {
  const url = frame.url ?? "";
  if (frame.functionName === "(garbage collector)") return "GC";
  if (frame.functionName === "(program)" || frame.functionName === "(idle)") return frame.functionName;
  if (/@toolkit|packages\/(shared|s3-object|photo-sync)|apps\/cli/.test(url)) return "s3kit";
  if (/@smithy|@aws-sdk|@aws-crypto/.test(url)) return "aws-sdk";
  if (url.startsWith("node:")) return `node (${url.slice(5).split("/")[0]})`;
  if (url === "") return "native";
  return "other";
}

for (const file of args) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const { nodes, samples, timeDeltas } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === "(idle)") continue;
    total += us;
    const name =
      `${callFrame.functionName || "(anonymous)"} ${callFrame.url ? `${callFrame.url.split("/").slice(-2).join("/")}:${callFrame.lineNumber + 1}` : ""}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const area = areaOf(callFrame);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  // Phases: the first of these found walking up a sample's stack.
  const parentOf = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const phaseOf = new Map();
  const phaseOfNode = (id) => {
    if (phaseOf.has(id)) return phaseOf.get(id);
    const { callFrame } = byId.get(id);
    const url = callFrame.url ?? "";
    let phase;
    if (url.includes("internal/modules/") || callFrame.functionName === "compileForInternalLoader")
      phase = "loading modules";
    else if (callFrame.functionName === "planSync") phase = "sync plan (scan, list, compare)";
    else if (callFrame.functionName === "applySyncPlan") phase = "sync apply (transfers, state)";
    else phase = parentOf.has(id) ? phaseOfNode(parentOf.get(id)) : "other (oclif, output, event loop)";
    phaseOf.set(id, phase);
    return phase;
  };
  const phases = new Map();
  for (const [id, us] of self) {
    if (byId.get(id).callFrame.functionName === "(idle)") continue;
    const phase = phaseOfNode(id);
    phases.set(phase, (phases.get(phase) ?? 0) + us);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1)} %`;
  const ms = (us) => `${(us / 1000).toFixed(0)} ms`;
  console.log(`\n## ${basename(file)}: ${ms(total)} sampled (not idle)\n`);
  console.log("| area | self time | share |\n|---|---:|---:|");
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`| ${a} | ${ms(us)} | ${pct(us)} |`);
  console.log("\n| phase (inclusive) | time | share |\n|---|---:|---:|");
  for (const [p, us] of [...phases].sort((x, y) => y[1] - x[1])) console.log(`| ${p} | ${ms(us)} | ${pct(us)} |`);
  console.log(`\n| top ${top} functions (self time) | self | share |\n|---|---:|---:|`);
  for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top))
    console.log(`| \`${f.replaceAll("|", "\\|")}\` | ${ms(us)} | ${pct(us)} |`);
}
