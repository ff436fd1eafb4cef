export {
  BATCH_INSERT_DURATION_BUCKETS,
  BUS_PUBLISH_FAILURE_REASONS,
  DEFAULT_ERROR_COMPONENTS,
  METRIC_CATALOGUE,
  PAPER_TICK_DURATION_BUCKETS,
} from './catalogue.js';
export type {
  BusPublishFailureReason,
  MetricDefinition,
  MetricGroup,
  MetricKey,
  MetricOrigin,
} from './catalogue.js';
export { createTradingMetrics } from './create-trading-metrics.js';
export type {
  CreateTradingMetricsOptions,
  TradingMetricHandles,
  TradingMetrics,
} from './create-trading-metrics.js';
export {
  EXPOSITION_CONTENT_TYPES,
  negotiateFormat,
  renderExposition,
  toOpenMetrics,
} from './exposition.js';
export type { ExpositionFormat } from './exposition.js';
export type { HealthCheck, HealthStatus } from './health.js';
export { startMetricsServer } from './metrics-server.js';
export { spreadBps } from './spread.js';
export type { MetricsServer, MetricsServerOptions } from './metrics-server.js';
export { startUptimeMonitor } from './uptime-monitor.js';
export type { UptimeMonitor, UptimeMonitorOptions } from './uptime-monitor.js';
