import { createTradingMetrics, renderExposition, startMetricsServer } from '@trade/metrics';
import { Registry } from 'prom-client';
import { median, nsPerOp, timeAsync, type BenchSuite } from '../harness.js';

// Realistic values: a few minutes of a live process at a few thousand ticks/s.
function populated() {
  const metrics = createTradingMetrics({ registry: new Registry(), version: 'bench' });
  metrics.ticksReceived.inc(1_523_000);
  metrics.ticksProcessed.inc(1_522_870);
  metrics.channelUtilization.set(12.5);
  metrics.channelBufferSize.set(130);
  metrics.batchesFlushed.inc(1_523);
  metrics.batchRetries.inc(4);
  metrics.batchBufferSize.set(412);
  for (let i = 0; i < 1_523; i++) metrics.batchInsertDuration.observe(0.002 + (i % 50) / 1000);
  metrics.cacheHits.inc(90_000);
  metrics.cacheMisses.inc(12);
  metrics.dbConnectionsActive.set(2);
  metrics.dbConnectionsIdle.set(8);
  metrics.wsConnections.inc(3);
  metrics.wsDisconnections.inc(2);
  metrics.wsReconnects.inc(2);
  metrics.wsConnectionStatus.set(1);
  metrics.markWsMessage();
  metrics.paperTrades.inc(57);
  metrics.paperPortfolioValue.set(10_523.45);
  metrics.paperPnl.set(523.45);
  for (let i = 0; i < 100_000; i++) metrics.paperTickDuration.observe(0.00002 * (1 + (i % 7)));
  metrics.ticksRejected.inc({ reason: 'invalid_json' }, 3);
  metrics.errors.inc({ component: 'database' }, 2);
  return metrics;
}

export const suite: BenchSuite = {
  name: 'metrics',
  async run() {
    const metrics = populated();
    const counter = metrics.ticksReceived;
    const rejected = metrics.ticksRejected.labels({ reason: 'invalid_json' });
    const histogram = metrics.batchInsertDuration;

    const inc = nsPerOp(() => counter.inc(), 5_000_000);
    const incLabeled = nsPerOp(() => rejected.inc(), 2_000_000);
    const observe = nsPerOp(() => histogram.observe(0.0042), 2_000_000);

    const render = median(
      await timeAsync(() => renderExposition(metrics.registry, 'prometheus'), 500),
    );
    const server = await startMetricsServer({
      registry: metrics.registry,
      host: '127.0.0.1',
      port: 0,
    });
    const scrape = median(
      await timeAsync(async () => {
        const response = await fetch(`${server.url}/metrics`);
        await response.text();
      }, 500),
    );
    await server.close();
    const bytes = (await renderExposition(metrics.registry, 'prometheus')).length;

    return [
      {
        name: 'counter increment',
        measured: inc,
        unit: 'ns',
        target: { op: '<=', value: 50 },
        note: `spec estimate 1-2 us: ${(1000 / inc).toFixed(0)}x better than its 1 us`,
      },
      { name: 'labeled counter increment (bound child)', measured: incLabeled, unit: 'ns' },
      { name: 'histogram observe', measured: observe, unit: 'ns' },
      {
        name: 'render whole catalogue + runtime metrics (median)',
        measured: render,
        unit: 'ms',
        target: { op: '<=', value: 1 },
        note: `${bytes} bytes, 500 samples; spec estimate 5-10 ms`,
      },
      {
        name: 'HTTP scrape over loopback (median)',
        measured: scrape,
        unit: 'ms',
        target: { op: '<=', value: 1 },
        note: '500 sequential GET /metrics with fetch, client time included',
      },
    ];
  },
};
