import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTradingMetrics,
  startMetricsServer,
  startUptimeMonitor,
  type MetricsServer,
  type TradingMetrics,
} from '../src/index.js';

// The real Prometheus tools from Debian's `prometheus` package (.ci/run installs it).
const promtool = process.env.PROMTOOL ?? 'promtool';
const prometheusBin = process.env.PROMETHEUS ?? 'prometheus';

let metrics: TradingMetrics;
let server: MetricsServer;
let stopUptime: () => void;

beforeAll(async () => {
  metrics = createTradingMetrics({ registry: new Registry(), version: '0.1.0-test' });
  metrics.ticksReceived.inc(1523);
  metrics.ticksProcessed.inc(1523);
  metrics.channelUtilization.set(12.5);
  metrics.batchesFlushed.inc(15);
  metrics.batchInsertDuration.observe(0.004);
  metrics.paperTickDuration.observe(0.00003);
  metrics.wsConnectionStatus.set(1);
  metrics.paperPortfolioValue.set(10523.45);
  metrics.ticksRejected.inc({ reason: 'invalid_json' });
  metrics.errors.inc({ component: 'database' });
  stopUptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds }).stop;
  server = await startMetricsServer({ registry: metrics.registry, host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  stopUptime();
  await server.close();
});

function run(command: string, args: string[], input: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = execFile(command, args, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number')
        reject(new Error(error.message, { cause: error }));
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

describe('the live exposition under the real Prometheus tools', () => {
  it('passes `promtool check metrics` with no problem reported', async () => {
    const body = await (await fetch(`${server.url}/metrics`)).text();
    expect(body).toContain('trading_ticks_received_total 1523');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
    const result = await run(promtool, ['check', 'metrics'], body);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('would report a problem: promtool is really checking', async () => {
    const bad = '# HELP x_total x\n# TYPE x_total gauge\nx_total 1\n';
    const result = await run(promtool, ['check', 'metrics'], bad);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      'non-counter metrics should not have "_total" suffix',
    );
  });

  it('is scraped by a real Prometheus server with every value intact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trade-prometheus-'));
    const port = await freePort();
    const target = new URL(server.url).host;
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: trading-core\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const prometheus: ChildProcess = spawn(
      prometheusBin,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    try {
      const query = async (expr: string) => {
        const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`;
        const response = await fetch(url);
        const json = (await response.json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return json.data.result;
      };
      const deadline = Date.now() + 45_000;
      let up: Awaited<ReturnType<typeof query>> = [];
      while (Date.now() < deadline) {
        up = await query('up{job="trading-core"} == 1').catch(() => []);
        if (up.length > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(up).toHaveLength(1);
      const value = async (expr: string) => (await query(expr))[0]?.value[1];
      expect(await value('trading_ticks_received_total')).toBe('1523');
      expect(await value('trading_channel_utilization_percent')).toBe('12.5');
      expect(await value('trading_ticks_rejected_total{reason="invalid_json"}')).toBe('1');
      expect(await value('trading_build_info{version="0.1.0-test"}')).toBe('1');
      expect(await value('trading_batch_insert_duration_seconds_bucket{le="0.005"}')).toBe('1');
      expect(await value('scrape_samples_scraped{job="trading-core"}')).toBeDefined();
    } finally {
      prometheus.kill('SIGTERM');
      await new Promise((r) => prometheus.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
