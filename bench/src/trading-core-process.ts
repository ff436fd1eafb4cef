import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The built `trading-core` CLI run as a child process, as an operator runs it.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP_DIR = join(ROOT, 'apps', 'trading-core');
// The app to run: this checkout's build unless BENCH_E2E_CLI names another (to compare two trees on one simulator).
const CLI = process.env.BENCH_E2E_CLI ?? join(APP_DIR, 'dist', 'cli.js');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Builds the app, and the workspace packages it runs on, when a dist is
 * missing or older than its sources: the bench runs what is checked out.
 */
export function ensureAppBuilt(): void {
  const packages = readdirSync(join(ROOT, 'packages')).map((name) => join(ROOT, 'packages', name));
  const stale = [APP_DIR, ...packages].some((dir) => {
    const built = newestFile(join(dir, 'dist'), () => true);
    return built === 0 || built < newestFile(join(dir, 'src'), (f) => !f.endsWith('.test.ts'));
  });
  if (!stale && existsSync(CLI)) return;
  // `trading-core...`: the app and every workspace package it depends on, dependencies first.
  execFileSync('pnpm', ['--filter', 'trading-core...', 'build'], { cwd: ROOT, stdio: 'ignore' });
}

/** The mtime of the newest file under `dir` that `keep` accepts; 0 when there is none. */
function newestFile(dir: string, keep: (file: string) => boolean): number {
  if (!existsSync(dir)) return 0;
  return Math.max(
    0,
    ...execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8' })
      .split('\n')
      .filter((file) => file !== '' && keep(file))
      .map((file) => statSync(file).mtimeMs),
  );
}

/** A running `trading-core` command. */
export interface AppProcess {
  readonly child: ChildProcess;
  /** The exporter's base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Peak resident set of the process so far, MiB. */
  peakRssMiB(): Promise<number>;
  /** User + system CPU seconds of the process so far. */
  cpuSeconds(): Promise<number>;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** How to start a command. */
export interface AppLaunch {
  /** The CLI's arguments, e.g. `['live', '--paper-trading']`. */
  readonly args: readonly string[];
  /** Added to this process's environment; metrics go to a free loopback port. */
  readonly env: Readonly<Record<string, string>>;
  /** Node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  readonly nodeArgs?: readonly string[];
  /** A file the process's output is appended to. */
  readonly logFile?: string | undefined;
}

/** Starts the command and resolves once its `/ready` answers 200. */
export async function startTradingCore(launch: AppLaunch): Promise<AppProcess> {
  const child = spawn(process.execPath, [...(launch.nodeArgs ?? []), CLI, ...launch.args], {
    env: {
      ...process.env,
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      ...launch.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output = (output + data.toString()).slice(-20_000);
      const match = /metrics served on (http:\/\/[^\s/]+)\/metrics/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    if (launch.logFile) {
      const log = createWriteStream(launch.logFile, { flags: 'a' });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
    }
    void exited.then((code) =>
      reject(new Error(`trading-core exited (${code}) before serving metrics: ${output}`)),
    );
  });
  for (;;) {
    const response = await fetch(`${url}/ready`).catch(() => undefined);
    if (response?.status === 200) break;
    if (child.exitCode !== null)
      throw new Error(`trading-core exited (${child.exitCode}): ${output}`);
    await sleep(50);
  }
  return {
    child,
    url,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
      return kib / 1024;
    },
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    stop() {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** User + system CPU seconds of process `pid` (/proc/<pid>/stat, clock ticks of 1/100 s). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
