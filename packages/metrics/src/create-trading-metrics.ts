import { TICK_REJECT_REASONS } from '@trade/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  BUS_PUBLISH_FAILURE_REASONS,
  DEFAULT_ERROR_COMPONENTS,
  METRIC_CATALOGUE,
  type MetricDefinition,
  type MetricKey,
} from './catalogue.js';
import { registerRuntimeMetrics } from './runtime-metrics.js';

type Catalogue = typeof METRIC_CATALOGUE;
type LabelsOf<D> = D extends { labelNames: readonly (infer L extends string)[] } ? L : never;
type HandleOf<D> = D extends { type: 'counter' }
  ? Counter<LabelsOf<D>>
  : D extends { type: 'gauge' }
    ? Gauge<LabelsOf<D>>
    : Histogram<LabelsOf<D>>;

/** A typed prom-client handle for every family of {@link METRIC_CATALOGUE}. */
export type TradingMetricHandles = { readonly [K in MetricKey]: HandleOf<Catalogue[K]> };

/** What {@link createTradingMetrics} returns. */
export interface TradingMetrics extends TradingMetricHandles {
  /** The registry every family was registered on. */
  readonly registry: Registry;
  /**
   * Records that a frame arrived from the exchange now (or at `atMs`); the
   * scrape reports `trading_ws_last_message_age_seconds` from it.
   */
  markWsMessage(atMs?: number): void;
}

/** Options of {@link createTradingMetrics}. */
export interface CreateTradingMetricsOptions {
  /** Where every family is registered. Never prom-client's global registry unless you pass it. */
  registry: Registry;
  /** Value of the `version` label of `trading_build_info`. Default `unknown`. */
  version?: string;
  /** Register Node runtime metrics (event loop, heap, GC, process). Default `true`. */
  runtimeMetrics?: boolean;
  /** Components whose `trading_errors_total` series start at zero. */
  errorComponents?: readonly string[];
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Registers the whole catalogue on `registry` and returns typed handles.
 * Two calls with two registries give two independent sets; a second call on
 * the same registry throws, as prom-client does for a duplicate name.
 *
 * @example
 * ```ts
 * const metrics = createTradingMetrics({ registry: new Registry(), version: '1.2.0' });
 * metrics.ticksReceived.inc();
 * metrics.ticksRejected.inc({ reason: 'invalid_json' });
 * ```
 */
export function createTradingMetrics(options: CreateTradingMetricsOptions): TradingMetrics {
  const { registry } = options;
  const now = options.now ?? Date.now;
  const handles: Record<string, Counter | Gauge | Histogram> = {};
  for (const [key, definition] of Object.entries(METRIC_CATALOGUE) as [
    MetricKey,
    MetricDefinition,
  ][]) {
    handles[key] = createFamily(definition, registry);
  }
  const metrics = handles as unknown as TradingMetricHandles;

  for (const reason of TICK_REJECT_REASONS) metrics.ticksRejected.inc({ reason }, 0);
  for (const reason of BUS_PUBLISH_FAILURE_REASONS) metrics.busPublishFailures.inc({ reason }, 0);
  for (const component of options.errorComponents ?? DEFAULT_ERROR_COMPONENTS) {
    metrics.errors.inc({ component }, 0);
  }
  metrics.buildInfo.set({ version: options.version ?? 'unknown' }, 1);

  let lastMessageAt = now();
  // Computed at scrape time, so the age is current however long ago the last frame came.
  (metrics.wsLastMessageAge as Gauge & { collect?: () => void }).collect = function collect() {
    metrics.wsLastMessageAge.set(Math.max(0, (now() - lastMessageAt) / 1000));
  };

  if (options.runtimeMetrics ?? true) registerRuntimeMetrics(registry);

  return Object.freeze({
    ...metrics,
    registry,
    markWsMessage(atMs?: number) {
      lastMessageAt = atMs ?? now();
    },
  });
}

function createFamily(definition: MetricDefinition, registry: Registry) {
  const common = {
    name: definition.name,
    help: definition.help,
    labelNames: [...(definition.labelNames ?? [])],
    registers: [registry],
  };
  switch (definition.type) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(definition.buckets ?? [])] });
  }
}
