// Runs the built `s3kit` binary as a child process, the way a user would, for the CLI tests. Build first:
// `pnpm --filter s3kit... build`.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const BIN = fileURLToPath(new URL("../bin/run.js", import.meta.url));

/** A secret key the child gets: no output may ever contain it. */
export const CLI_SECRET = "SENTINEL-cli-secret-never-printed-7f3a9c";
/** The access key id the child gets: output may show at most its last four characters. */
export const CLI_ACCESS_KEY_ID = "AKIAS3KITTESTWXYZ";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Appended as `--endpoint-url <endpoint>`. */
  endpoint?: string;
  /** Extra environment, over the scrubbed one. */
  env?: Record<string, string>;
  cwd?: string;
  /** Written to stdin, which is then closed. @default "" */
  stdin?: string;
}

/**
 * The child's environment: this process's, without any AWS_* or S3KIT_* variable (so no real profile,
 * endpoint or credentials leak in), with sentinel credentials whose secret must never be printed.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("AWS_") && !k.startsWith("S3KIT_") && k !== "FORCE_COLOR") env[k] = v;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: CLI_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: CLI_SECRET,
    AWS_REGION: "us-east-1",
    AWS_CONFIG_FILE: "/nonexistent/s3kit-test-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/s3kit-test-credentials",
    AWS_EC2_METADATA_DISABLED: "true",
    NO_COLOR: "1",
    ...extra,
  };
}

/** Start the CLI; `done` settles when it exits, after checking that no output contains the secret. */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const argv = [BIN, ...args, ...(options.endpoint ? ["--endpoint-url", options.endpoint] : [])];
  const child = spawn(process.execPath, argv, {
    env: cliEnv(options.env),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  child.stdin?.end(options.stdin ?? "");
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      expect(stdout + stderr).not.toContain(CLI_SECRET);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Run the CLI to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).done;
}
