import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's defaults include three gauges whose names end in `_total`;
 * `promtool check metrics` rejects that for a non-counter. Their unsuffixed
 * twins (`nodejs_active_handles` etc.) carry the same values.
 */
const NON_COUNTERS_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * Node runtime metrics under prom-client's standard names (process CPU and
 * memory, `nodejs_eventloop_lag_*`, `nodejs_heap_*`, `nodejs_gc_duration_seconds`)
 * plus `nodejs_eventloop_utilization`, all on `registry`.
 */
export function registerRuntimeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of NON_COUNTERS_NAMED_TOTAL) registry.removeSingleMetric(name);

  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  new Gauge({
    name: 'nodejs_eventloop_utilization',
    help: 'Fraction of time the event loop was busy since the previous scrape (0-1)',
    registers: [registry],
    collect() {
      const current = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(current, previous).utilization);
      previous = current;
    },
  });
}
