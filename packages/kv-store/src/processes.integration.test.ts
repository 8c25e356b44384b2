// Several OS processes on one local file, and pushes and compactions killed at random points. The children run the built
// package (dist/): build first with `pnpm --filter @toolkit/kv-store build`.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createTestBucket, startS3Server, testClientOptions } from "@toolkit/shared/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { openKv } from "./kv-store.ts";
import { collect, localPath } from "./testing/sync-suite.ts";

const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));
type Server = Awaited<ReturnType<typeof startS3Server>>;
let server: Server;

beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error("packages/kv-store is not built: run `pnpm --filter @toolkit/kv-store build`");
  server = await startS3Server();
});

function child(script: string, env: Record<string, string>) {
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...env, KV_DIST: DIST },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  // Resolves at the child's first line on stdout (or when it ends without one).
  const firstLine = new Promise<void>((resolve) => {
    proc.stdout.setEncoding("utf8").on("data", (c: string) => {
      if (c.includes("\n")) resolve();
    });
    proc.once("close", () => resolve());
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  return { proc, done, firstLine };
}

const WRITER = `
const { openKv } = await import(process.env.KV_DIST);
const db = await openKv({ path: process.env.KV_PATH });
for (let i = 0; i < 150; i++) await db.set(process.env.KV_NAME + i, { i });
await db.setMany(Array.from({ length: 50 }, (_, i) => [process.env.KV_NAME + "batch" + i, i]));
await db.close();
`;

/**
 * A replica that writes 40 keys per round and pushes them, then runs `after` (if any), forever; it prints `pushed`
 * (`compacted` with `after`) on stdout once its first round is done.
 */
const replicaLoop = (after = "") => `
const { openKv } = await import(process.env.KV_DIST);
const db = await openKv({ path: process.env.KV_PATH, remote: process.env.KV_REMOTE,
  remoteOptions: JSON.parse(process.env.KV_OPTIONS) });
for (let round = 0; ; round++) {
  await db.setMany(Array.from({ length: 40 }, (_, i) => ["k" + i, { round, pad: "p".repeat(500) }]));
  await db.push();
  ${after}
  if (round === 0) process.stdout.write("${after ? "compacted" : "pushed"}\\n");
}
`;
const PUSHER = replicaLoop();
// Pushes a round, then compacts with no grace period (old segments deleted at once), again and again.
const COMPACTOR = replicaLoop("await db.compact({ graceMs: 0 });");

describe("several processes", () => {
  it("write one local file at once without losing a write", async () => {
    const path = localPath("shared");
    await (await openKv({ path })).close();
    const runs = ["a", "b", "c"].map((name) => child(WRITER, { KV_PATH: path, KV_NAME: name }));
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    await using db = await openKv({ path });
    expect(await db.size()).toBe(600);
    expect(await db.get("b149")).toEqual({ i: 149 });
  });

  it("a push killed at random points leaves the remote readable, and a re-run converges", async () => {
    const { url } = await createTestBucket(server, "kv-kill");
    const remote = `${url}db`;
    const remoteOptions = { ...testClientOptions(server), maxAttempts: 2 };
    const path = localPath("killed");
    let sawData = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const run = child(PUSHER, {
        KV_PATH: path,
        KV_REMOTE: remote,
        KV_OPTIONS: JSON.stringify(remoteOptions),
      });
      // Kill after a varying delay once the first push has landed (a loaded machine can take a second just to
      // start the child): sometimes mid-segment upload, sometimes between the two PUTs.
      await run.firstLine;
      await new Promise((resolve) => setTimeout(resolve, 20 + attempt * 37));
      run.proc.kill("SIGKILL");
      const { signal, stderr } = await run.done;
      expect(signal === "SIGKILL" || stderr === "", stderr).toBe(true);
      // Whatever state the remote is in, a fresh reader sees a consistent database: 40 keys of one round.
      const reader = await openKv({ path: localPath(`reader${attempt}`), remote, remoteOptions });
      const entries = await collect(reader.entries());
      await reader.close();
      if (entries.length > 0) {
        sawData++;
        expect(entries).toHaveLength(40);
        const rounds = new Set(entries.map(([, v]) => (v as { round: number }).round));
        expect(rounds.size).toBe(1);
      }
    }
    expect(sawData).toBeGreaterThan(0);
    // Re-running push on the killed writer's file converges: its last local round reaches the remote.
    const writer = await openKv({ path, remote, remoteOptions });
    await writer.push();
    const local = Object.fromEntries(await collect(writer.entries()));
    expect(await writer.changes()).toEqual({ added: [], modified: [], deleted: [] });
    await writer.close();
    const reader = await openKv({ path: localPath("final"), remote, remoteOptions });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual(local);
    await reader.close();
  });

  it("a compaction killed at random points leaves the remote readable, and a re-run converges", async () => {
    const { url } = await createTestBucket(server, "kv-kill-compact");
    const remote = `${url}db`;
    const remoteOptions = { ...testClientOptions(server), maxAttempts: 2 };
    const path = localPath("killed-compact");
    for (let attempt = 0; attempt < 4; attempt++) {
      const run = child(COMPACTOR, { KV_PATH: path, KV_REMOTE: remote, KV_OPTIONS: JSON.stringify(remoteOptions) });
      // After the first compaction landed: sometimes mid-push, mid-segment upload, between the manifest swap
      // and the deletes of the segments it retired.
      await run.firstLine;
      await new Promise((resolve) => setTimeout(resolve, 20 + attempt * 53));
      run.proc.kill("SIGKILL");
      const { signal, stderr } = await run.done;
      expect(signal === "SIGKILL" || stderr === "", stderr).toBe(true);
      // The manifest never points at a missing segment: a fresh reader sees 40 keys of one round.
      const reader = await openKv({ path: localPath(`compact-reader${attempt}`), remote, remoteOptions });
      const entries = await collect(reader.entries());
      await reader.close();
      expect(entries).toHaveLength(40);
      expect(new Set(entries.map(([, v]) => (v as { round: number }).round)).size).toBe(1);
    }
    // The killed replica pushes what it had and compacts again: the remote holds exactly its values.
    const writer = await openKv({ path, remote, remoteOptions });
    await writer.push();
    await writer.compact({ graceMs: 0 });
    const local = Object.fromEntries(await collect(writer.entries()));
    await writer.close();
    const reader = await openKv({ path: localPath("compact-final"), remote, remoteOptions });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual(local);
    await reader.close();
  });
});
