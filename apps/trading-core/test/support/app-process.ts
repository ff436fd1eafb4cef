import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

// The built CLI, run as an operator runs it.
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A running `trading-core` process and what it printed so far. */
export interface AppProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
  /** JSON log records printed so far. */
  logs(): Record<string, unknown>[];
  /** Resolves with the exporter's base URL once the app prints it. */
  metricsUrl(): Promise<string>;
  /** Resolves once a log record's msg matches. */
  waitForLog(pattern: RegExp): Promise<Record<string, unknown>>;
}

const launched = new Set<ChildProcessWithoutNullStreams>();

/** Kills every app process a test started that is still running, and waits for them to exit. */
export async function killLaunched(): Promise<void> {
  const left = [...launched].filter(
    (child) => child.exitCode === null && child.signalCode === null,
  );
  for (const child of left) child.kill('SIGKILL');
  await Promise.all(left.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  launched.clear();
}

// A test that fails or times out must not leave its app running (and loading
// the machine) for the tests after it.
afterEach(killLaunched);

/** Starts `trading-core <args>` with metrics on a free loopback port unless `env` says otherwise. */
export function launch(args: string[], env: Record<string, string | undefined> = {}): AppProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    env: {
      ...process.env,
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  launched.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logs = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const waitForLog = async (pattern: RegExp) => {
    for (;;) {
      const found = logs().find((record) => pattern.test(String(record.msg)));
      if (found) return found;
      if (child.exitCode !== null) {
        throw new Error(
          `trading-core exited (${child.exitCode}) before logging ${pattern}: ${stderr}${stdout.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    logs,
    waitForLog,
    async metricsUrl() {
      const record = await waitForLog(/^metrics served on /);
      return /(http:\/\/[^\s/]+)\/metrics/.exec(String(record.msg))![1]!;
    },
  };
}

/** Polls `url` until it answers `status`. */
export async function waitForStatus(url: string, status: number): Promise<void> {
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads one sample value of the exposition at `url`. */
export async function sample(url: string, name: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}
