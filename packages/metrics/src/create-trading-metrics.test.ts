import { TICK_REJECT_REASONS } from '@trade/core';
import { register as globalRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BUS_PUBLISH_FAILURE_REASONS, METRIC_CATALOGUE } from './catalogue.js';
import { createTradingMetrics } from './create-trading-metrics.js';
import { spreadBps } from './spread.js';

describe('createTradingMetrics', () => {
  it('registers every family of the catalogue on the given registry only', async () => {
    const registry = new Registry();
    createTradingMetrics({ registry, runtimeMetrics: false });
    const names = registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
    expect(names.sort()).toEqual(
      Object.values(METRIC_CATALOGUE)
        .map((d) => d.name)
        .sort(),
    );
    expect(await globalRegistry.metrics()).not.toContain('trading_');
  });

  it("produces the spec's expected output lines", async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    metrics.ticksReceived.inc(1523);
    metrics.channelUtilization.set(12.5);
    metrics.wsConnectionStatus.set(1);
    metrics.paperPortfolioValue.set(10523.45);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      [
        '# HELP trading_ticks_received_total Total number of ticks received from exchange',
        '# TYPE trading_ticks_received_total counter',
        'trading_ticks_received_total 1523',
      ].join('\n'),
    );
    expect(text).toContain('trading_channel_utilization_percent 12.5\n');
    expect(text).toContain('trading_ws_connection_status 1\n');
    expect(text).toContain('trading_paper_portfolio_value 10523.45\n');
    expect(text).toContain('trading_batch_insert_duration_seconds_bucket{le="0.025"} 0\n');
    expect(text).toContain('trading_paper_tick_duration_seconds_bucket{le="0.0001"} 0\n');
  });

  it('keeps two instances in one process independent', async () => {
    const a = createTradingMetrics({ registry: new Registry() });
    const b = createTradingMetrics({ registry: new Registry() });
    a.ticksReceived.inc(5);
    b.ticksReceived.inc(7);
    expect(await a.registry.metrics()).toContain('trading_ticks_received_total 5\n');
    expect(await b.registry.metrics()).toContain('trading_ticks_received_total 7\n');
  });

  it('refuses a second catalogue on the same registry', () => {
    const registry = new Registry();
    createTradingMetrics({ registry, runtimeMetrics: false });
    expect(() => createTradingMetrics({ registry, runtimeMetrics: false })).toThrow(
      /already been registered/,
    );
  });

  it('starts every reject reason and error component at zero and labels the build', async () => {
    const metrics = createTradingMetrics({
      registry: new Registry(),
      runtimeMetrics: false,
      version: '1.2.3',
      errorComponents: ['exchange', 'database'],
    });
    const text = await metrics.registry.metrics();
    for (const reason of TICK_REJECT_REASONS) {
      expect(text).toContain(`trading_ticks_rejected_total{reason="${reason}"} 0\n`);
    }
    expect(text).toContain('trading_errors_total{component="exchange"} 0\n');
    expect(text).toContain('trading_errors_total{component="database"} 0\n');
    expect(text).not.toContain('component="cache"');
    expect(text).toContain('trading_build_info{version="1.2.3"} 1\n');
  });

  it('starts every bus publish failure reason at zero and labels the bus families', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    metrics.busPublished.inc({ channel: 'trade', symbol: 'BTCUSDT' }, 3);
    metrics.busDuplicates.inc({ channel: 'trade', symbol: 'BTCUSDT' });
    metrics.busConsumerPending.set({ consumer: 'store' }, 12);
    metrics.busRedeliveries.inc({ consumer: 'store' }, 2);
    const text = await metrics.registry.metrics();
    for (const reason of BUS_PUBLISH_FAILURE_REASONS) {
      expect(text).toContain(`trading_bus_publish_failures_total{reason="${reason}"} 0\n`);
    }
    expect(text).toContain('trading_bus_published_total{channel="trade",symbol="BTCUSDT"} 3\n');
    expect(text).toContain('trading_bus_duplicates_total{channel="trade",symbol="BTCUSDT"} 1\n');
    expect(text).toContain('trading_bus_consumer_pending{consumer="store"} 12\n');
    expect(text).toContain('trading_bus_redeliveries_total{consumer="store"} 2\n');
    expect(text).toContain('trading_errors_total{component="bus"} 0\n');
  });

  it('exposes the quote and order book families, the unlabeled counters from zero', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    expect(await metrics.registry.metrics()).toContain('trading_quotes_received_total 0\n');
    expect(await metrics.registry.metrics()).toContain('trading_book_updates_total 0\n');
    metrics.quotesReceived.inc(3);
    metrics.bestBidPrice.set({ symbol: 'BNBUSDT' }, Number('25.35190000'));
    metrics.bestAskPrice.set({ symbol: 'BNBUSDT' }, Number('25.36520000'));
    metrics.spreadBps.set({ symbol: 'BNBUSDT' }, spreadBps('25.35190000', '25.36520000'));
    metrics.bookUpdates.inc(42);
    metrics.bookResyncs.inc({ symbol: 'BNBUSDT' });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      [
        '# HELP trading_spread_bps Current bid-ask spread of the symbol in basis points: (ask - bid) / ((ask + bid) / 2) x 10^4',
        '# TYPE trading_spread_bps gauge',
        'trading_spread_bps{symbol="BNBUSDT"} 5.24477937421500',
      ].join('\n'),
    );
    expect(text).toContain('trading_quotes_received_total 3\n');
    expect(text).toContain('trading_best_bid_price{symbol="BNBUSDT"} 25.3519\n');
    expect(text).toContain('trading_best_ask_price{symbol="BNBUSDT"} 25.3652\n');
    expect(text).toContain('trading_book_updates_total 42\n');
    expect(text).toContain('trading_book_resyncs_total{symbol="BNBUSDT"} 1\n');
  });

  it('reports the age of the last exchange frame at scrape time', async () => {
    let now = 1_000_000;
    const metrics = createTradingMetrics({
      registry: new Registry(),
      runtimeMetrics: false,
      now: () => now,
    });
    now += 2_500;
    expect(await metrics.registry.metrics()).toContain('trading_ws_last_message_age_seconds 2.5\n');
    metrics.markWsMessage();
    now += 250;
    expect(await metrics.registry.metrics()).toContain(
      'trading_ws_last_message_age_seconds 0.25\n',
    );
  });

  it('adds Node runtime metrics under the standard names, without _total gauges', async () => {
    const metrics = createTradingMetrics({ registry: new Registry() });
    const text = await metrics.registry.metrics();
    for (const name of [
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_utilization',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'process_cpu_seconds_total',
      'nodejs_active_handles',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).not.toMatch(/# TYPE \S+_total gauge/);
  });
});
