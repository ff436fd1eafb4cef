import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from './support/app-process.js';

// The real Prometheus (Debian's package) scraping the app on the simulator, with
// ops/'s scrape config and alert rules; every dashboard query and alert
// expression is then asked of its HTTP API.
const prometheusBin = process.env.PROMETHEUS ?? 'prometheus';
const ops = (path: string) => fileURLToPath(new URL(`../../../ops/${path}`, import.meta.url));

interface QueryResult {
  status: string;
  error?: string;
  data?: { result: unknown[] };
}

let dir: string;
let app: AppProcess;
let prometheus: ChildProcess;
let api: string;

async function query(expr: string): Promise<QueryResult> {
  const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResult;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trading-core-e2e-'));
  app = launch(['live', '--paper-trading', '--sim', '--sim-rate', '100'], {
    DATA_DIR: join(dir, 'data'),
    // Every channel, so the quote and book panels have series.
    CHANNELS: 'trade,bookTicker,depth',
  });
  const appUrl = await app.metricsUrl();
  await waitForStatus(`${appUrl}/ready`, 200);

  const config = (await readFile(ops('prometheus/prometheus.yml'), 'utf8'))
    .replace("'127.0.0.1:9090'", `'${new URL(appUrl).host}'`)
    .replace(/scrape_interval: \d+s/g, 'scrape_interval: 1s')
    .replace(/evaluation_interval: \d+s/g, 'evaluation_interval: 1s');
  await writeFile(join(dir, 'prometheus.yml'), config);
  await copyFile(ops('prometheus/alerts.yml'), join(dir, 'alerts.yml'));
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    prometheusBin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  // Enough scrapes for rate() and deriv() over any window to have two samples.
  for (;;) {
    const result = await query('count_over_time(up{job="trading-core"}[1m]) >= 5').catch(
      () => undefined,
    );
    if (result?.data?.result.length) break;
    await new Promise((r) => setTimeout(r, 250));
  }
}, 90_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  if (prometheus && prometheus.exitCode === null)
    await new Promise((r) => prometheus.once('exit', r));
  if (app && app.child.exitCode === null) {
    app.child.kill('SIGTERM');
    await app.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('Prometheus against trading-core on the simulator', () => {
  it('loads every alert rule healthy', async () => {
    const response = await fetch(`${api}/api/v1/rules`);
    const body = (await response.json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules).toHaveLength(16);
    for (const rule of rules) expect(rule.health, rule.name).toBe('ok');
  });

  it('answers every dashboard query with data', async () => {
    const dashboard = JSON.parse(await readFile(ops('grafana/trading-core.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const targets = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => [p.title, t.expr]),
    );
    expect(targets.length).toBeGreaterThan(30);
    for (const [title, expr] of targets) {
      const result = await query(expr!);
      expect(result.status, `${title}: ${expr} ${result.error ?? ''}`).toBe('success');
      expect(result.data!.result.length, `${title}: ${expr} returned no series`).toBeGreaterThan(0);
    }
  });

  it('parses every alert expression, and every series it reads has data', async () => {
    const rules = await readFile(ops('prometheus/alerts.yml'), 'utf8');
    const exprs = [...rules.matchAll(/expr: (.+)/g)].map((m) => m[1]!.trim());
    expect(exprs).toHaveLength(16);
    // The groups after trading-core read series that only some processes export: the bus
    // group's, `collect` and `store` (test/bus-*.test.ts run those commands); the market-data
    // group's, the bookTicker and depth channels. Parsed here, not expected to have data on `live`.
    const busGroup = rules.indexOf('- name: trading-core-bus');
    expect(busGroup).toBeGreaterThan(0);
    const liveExprs = [...rules.slice(0, busGroup).matchAll(/expr: (.+)/g)].map((m) =>
      m[1]!.trim(),
    );
    expect(liveExprs).toHaveLength(11);
    for (const expr of exprs) {
      const parsed = await query(expr);
      expect(parsed.status, `${expr} ${parsed.error ?? ''}`).toBe('success');
    }
    for (const expr of liveExprs) {
      const series = [...expr.matchAll(/\b((?:trading|nodejs)_[a-z0-9_]+|up)\b/g)].map(
        (m) => m[1]!,
      );
      expect(series.length, expr).toBeGreaterThan(0);
      for (const name of series) {
        const present = await query(name);
        expect(present.data!.result.length, `${name} (in ${expr}) has no data`).toBeGreaterThan(0);
      }
    }
  });

  it('sees the pipeline move: ticks flow, the socket is up, no alert fires', async () => {
    const rate = await query('rate(trading_ticks_received_total[10s])');
    const value = Number((rate.data!.result[0] as { value: [number, string] }).value[1]);
    expect(value).toBeGreaterThan(0);
    const firing = await query('ALERTS{alertstate="firing"}');
    expect(firing.data!.result).toEqual([]);
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
