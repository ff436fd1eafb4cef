import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built CLI, run as an operator would run it.
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function launch(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, METRICS_HOST: '127.0.0.1', METRICS_PORT: '0', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function metricsUrl(run: ReturnType<typeof launch>): Promise<string> {
  for (;;) {
    const match = /metrics served on (http:\/\/[^\s/]+)\/metrics/.exec(run.output().stdout);
    if (match) return match[1]!;
    if (run.child.exitCode !== null) throw new Error(`exited early: ${run.output().stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stop(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals) {
  child.kill(signal);
}

describe('trading-core', () => {
  it('runs live, serves metrics and health, and exits 0 on SIGTERM', async () => {
    const run = launch(['--', 'live', '--paper-trading']);
    const url = await metricsUrl(run);
    const health = await fetch(`${url}/health`);
    expect([health.status, await health.text()]).toEqual([200, 'OK\n']);
    const body = await (await fetch(`${url}/metrics`)).text();
    expect(body).toContain('trading_build_info{version="0.1.0"} 1');
    expect(body).toContain('# TYPE trading_uptime_seconds gauge');
    stop(run.child, 'SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('"msg":"stopped"');
  });

  it('stops at start with a message naming a bad setting', async () => {
    const run = launch(['live'], { METRICS_PORT: 'ninety' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toBe(
      'trading-core: invalid configuration: METRICS_PORT: expected a port number from 0 to 65535, got "ninety"\n',
    );
  });

  it('says what is wrong with an unknown command or flag', async () => {
    const unknown = launch(['fly']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output().stderr).toContain('unknown command: fly');
    const flag = launch(['live', '--nope']);
    expect(await flag.exited).toBe(2);
    expect(flag.output().stderr).toContain("Unknown option '--nope'");
  });

  it('prints help', async () => {
    const run = launch(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('Usage: trading-core <command> [options]');
  });
});
