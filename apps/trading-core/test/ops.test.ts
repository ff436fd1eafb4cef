import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { METRIC_CATALOGUE } from '@trade/metrics';
import { describe, expect, it } from 'vitest';

// ops/ as operators use it, checked with the real promtool (Debian's prometheus package).
const run = promisify(execFile);
const promtool = process.env.PROMTOOL ?? 'promtool';
const ops = (path: string) => fileURLToPath(new URL(`../../../ops/${path}`, import.meta.url));

interface Dashboard {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
}

describe('ops/prometheus', () => {
  it('has a valid scrape config that loads the alert rules', async () => {
    const { stdout } = await run(promtool, ['check', 'config', ops('prometheus/prometheus.yml')]);
    expect(stdout).toContain('is valid prometheus config file syntax');
    expect(stdout).toContain('SUCCESS: 16 rules found');
  });

  it('passes `promtool check rules`', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', ops('prometheus/alerts.yml')]);
    expect(stdout).toContain('SUCCESS: 16 rules found');
  });

  it('passes `promtool test rules`, which covers every alert firing and not firing', async () => {
    const { stdout } = await run(promtool, ['test', 'rules', ops('prometheus/alerts.test.yml')]);
    expect(stdout).toContain('SUCCESS');
    const rules = readFileSync(ops('prometheus/alerts.yml'), 'utf8');
    const tests = readFileSync(ops('prometheus/alerts.test.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts).toHaveLength(16);
    for (const alert of alerts) {
      const cases = [
        ...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:(.*)`, 'g')),
      ];
      const firing = cases.filter((c) => c[1]!.trim() === '');
      const silent = cases.filter((c) => c[1]!.trim() === '[]');
      expect(firing.length, `${alert} firing case`).toBeGreaterThan(0);
      expect(silent.length, `${alert} not-firing case`).toBeGreaterThan(0);
    }
  });
});

describe('ops/grafana/trading-core.json', () => {
  const dashboard = JSON.parse(readFileSync(ops('grafana/trading-core.json'), 'utf8')) as Dashboard;
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);

  it("has the specification's six panels", () => {
    for (const expr of [
      'rate(trading_ticks_received_total[1m])',
      'trading_channel_utilization_percent',
      'histogram_quantile(0.95, rate(trading_batch_insert_duration_seconds_bucket[5m]))',
      'trading_ws_connection_status',
      'trading_paper_pnl',
      'rate(trading_batches_failed_total[5m])',
    ]) {
      expect(exprs).toContain(expr);
    }
  });

  it('has a Quotes and order book row: spread, best bid and ask, quote rate, resyncs', () => {
    const titles = dashboard.panels.map((p) => p.title);
    const row = titles.indexOf('Quotes and order book');
    expect(row, 'the Quotes and order book row').toBeGreaterThan(0);
    expect(dashboard.panels[row]!.type).toBe('row');
    const next = dashboard.panels.findIndex((p, i) => i > row && p.type === 'row');
    const rowExprs = dashboard.panels
      .slice(row + 1, next === -1 ? undefined : next)
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr);
    expect(rowExprs).toEqual([
      'max by (symbol) (trading_spread_bps)',
      'max by (symbol) (trading_best_bid_price)',
      'max by (symbol) (trading_best_ask_price)',
      'sum(rate(trading_quotes_received_total[1m]))',
      'sum(rate(trading_book_updates_total[1m]))',
      'sum by (symbol) (increase(trading_book_resyncs_total[10m])) or on() vector(0)',
    ]);
  });

  it('charts every family of the catalogue', () => {
    const all = exprs.join('\n');
    for (const { name } of Object.values(METRIC_CATALOGUE)) {
      expect(all, name).toContain(name);
    }
  });
});
