/** Where a family comes from: the original specification, or added by this toolkit. */
export type MetricOrigin = 'spec' | 'added';

/** The section of the catalogue a family belongs to. */
export type MetricGroup =
  | 'ticks'
  | 'batches'
  | 'cache'
  | 'database'
  | 'websocket'
  | 'paper'
  | 'system'
  | 'bus'
  | 'quotes'
  | 'book'
  | 'storage';

/** One metric family: its exposition name, type, help text, buckets and labels are a contract. */
export interface MetricDefinition {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly group: MetricGroup;
  readonly origin: MetricOrigin;
  readonly buckets?: readonly number[];
  readonly labelNames?: readonly string[];
}

/** Buckets of `trading_batch_insert_duration_seconds`, from the specification. */
export const BATCH_INSERT_DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
] as const;

/** Buckets of `trading_paper_tick_duration_seconds`, from the specification. */
export const PAPER_TICK_DURATION_BUCKETS = [
  0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
] as const;

/**
 * Why a publish to the bus got no acknowledgement from JetStream: the values
 * of the `reason` label of `trading_bus_publish_failures_total`, each started
 * at zero. A closed set keeps the label's cardinality bounded.
 *
 * - `timeout`: no answer in time (the server is gone, slow, or the
 *   connection dropped with the publish in flight);
 * - `no_responders`: nothing took the subject (no stream captures it, or
 *   JetStream is not running yet);
 * - `refused`: JetStream answered with an error (limits, wrong stream);
 * - `connection_closed`: the connection was closed or draining;
 * - `other`: anything else.
 */
export const BUS_PUBLISH_FAILURE_REASONS = [
  'timeout',
  'no_responders',
  'refused',
  'connection_closed',
  'other',
] as const;

/** One of {@link BUS_PUBLISH_FAILURE_REASONS}. */
export type BusPublishFailureReason = (typeof BUS_PUBLISH_FAILURE_REASONS)[number];

/**
 * Every `trading_*` family, keyed by the handle name that
 * {@link createTradingMetrics} returns. The 25 `spec` families match the
 * specification word for word; the `added` ones are this toolkit's.
 */
export const METRIC_CATALOGUE = {
  // 1. Tick processing
  ticksReceived: {
    name: 'trading_ticks_received_total',
    type: 'counter',
    help: 'Total number of ticks received from exchange',
    group: 'ticks',
    origin: 'spec',
  },
  ticksProcessed: {
    name: 'trading_ticks_processed_total',
    type: 'counter',
    help: 'Total number of ticks processed successfully',
    group: 'ticks',
    origin: 'spec',
  },
  channelUtilization: {
    name: 'trading_channel_utilization_percent',
    type: 'gauge',
    help: 'Current utilization of tick processing channel (0-100%)',
    group: 'ticks',
    origin: 'spec',
  },
  channelBufferSize: {
    name: 'trading_channel_buffer_size',
    type: 'gauge',
    help: 'Current number of ticks in processing channel buffer',
    group: 'ticks',
    origin: 'spec',
  },
  ticksRejected: {
    name: 'trading_ticks_rejected_total',
    type: 'counter',
    help: 'Total number of frames from the exchange rejected instead of becoming ticks, by reason',
    group: 'ticks',
    origin: 'added',
    labelNames: ['reason'],
  },

  ticksBackfilled: {
    name: 'trading_ticks_backfilled_total',
    type: 'counter',
    help: 'Total number of trades recovered over REST after a gap in trade ids',
    group: 'ticks',
    origin: 'added',
  },
  ticksUnrecovered: {
    name: 'trading_ticks_unrecovered_total',
    type: 'counter',
    help: 'Total number of trades found missing by a gap in trade ids that could not be backfilled',
    group: 'ticks',
    origin: 'added',
  },
  ticksDuplicate: {
    name: 'trading_ticks_duplicates_total',
    type: 'counter',
    help: 'Total number of trades dropped as repeats of a trade id already delivered',
    group: 'ticks',
    origin: 'added',
  },
  gapsOpen: {
    name: 'trading_gaps_open',
    type: 'gauge',
    help: 'Current number of trade-id gaps waiting for REST backfill',
    group: 'ticks',
    origin: 'added',
  },

  // 2. Batch processing
  batchesFlushed: {
    name: 'trading_batches_flushed_total',
    type: 'counter',
    help: 'Total number of batches successfully flushed to database',
    group: 'batches',
    origin: 'spec',
  },
  batchesFailed: {
    name: 'trading_batches_failed_total',
    type: 'counter',
    help: 'Total number of batch inserts that failed after retries',
    group: 'batches',
    origin: 'spec',
  },
  batchRetries: {
    name: 'trading_batch_retries_total',
    type: 'counter',
    help: 'Total number of batch insert retry attempts',
    group: 'batches',
    origin: 'spec',
  },
  batchBufferSize: {
    name: 'trading_batch_buffer_size',
    type: 'gauge',
    help: 'Current number of ticks in batch buffer',
    group: 'batches',
    origin: 'spec',
  },
  batchInsertDuration: {
    name: 'trading_batch_insert_duration_seconds',
    type: 'histogram',
    help: 'Duration of batch insert operations in seconds',
    group: 'batches',
    origin: 'spec',
    buckets: BATCH_INSERT_DURATION_BUCKETS,
  },

  spoolTicks: {
    name: 'trading_spool_ticks',
    type: 'gauge',
    help: 'Current number of ticks in the durable on-disk spool waiting for the database',
    group: 'batches',
    origin: 'added',
  },

  ticksRefused: {
    name: 'trading_ticks_refused_total',
    type: 'counter',
    help: 'Total number of ticks the database refused as invalid, kept in the rejected file of the spool directory',
    group: 'batches',
    origin: 'added',
  },
  spoolAppendFailures: {
    name: 'trading_spool_append_failures_total',
    type: 'counter',
    help: 'Total number of spool appends that failed or wrote short (a full or failing disk)',
    group: 'batches',
    origin: 'added',
  },
  spoolCorruptRecords: {
    name: 'trading_spool_corrupt_records_total',
    type: 'counter',
    help: 'Total number of spool records that failed their checksum or could not be read, kept in the quarantine file',
    group: 'batches',
    origin: 'added',
  },
  ingestBlocked: {
    name: 'trading_ingest_blocked',
    type: 'gauge',
    help: 'Whether reading from the exchange is paused because neither the database nor the spool takes ticks (1=paused)',
    group: 'batches',
    origin: 'added',
  },

  // 3. Cache
  cacheHits: {
    name: 'trading_cache_hits_total',
    type: 'counter',
    help: 'Total number of cache hits',
    group: 'cache',
    origin: 'spec',
  },
  cacheMisses: {
    name: 'trading_cache_misses_total',
    type: 'counter',
    help: 'Total number of cache misses',
    group: 'cache',
    origin: 'spec',
  },
  cacheUpdateFailures: {
    name: 'trading_cache_update_failures_total',
    type: 'counter',
    help: 'Total number of cache update failures',
    group: 'cache',
    origin: 'spec',
  },

  // 4. Database connection pool
  dbConnectionsActive: {
    name: 'trading_db_connections_active',
    type: 'gauge',
    help: 'Current number of active database connections',
    group: 'database',
    origin: 'spec',
  },
  dbConnectionsIdle: {
    name: 'trading_db_connections_idle',
    type: 'gauge',
    help: 'Current number of idle database connections in pool',
    group: 'database',
    origin: 'spec',
  },
  dbPoolWaits: {
    name: 'trading_db_pool_waits_total',
    type: 'counter',
    help: 'Total number of times a connection had to wait for pool availability',
    group: 'database',
    origin: 'spec',
  },

  // 5. WebSocket connection
  wsConnections: {
    name: 'trading_ws_connections_total',
    type: 'counter',
    help: 'Total number of WebSocket connection attempts',
    group: 'websocket',
    origin: 'spec',
  },
  wsDisconnections: {
    name: 'trading_ws_disconnections_total',
    type: 'counter',
    help: 'Total number of WebSocket disconnections',
    group: 'websocket',
    origin: 'spec',
  },
  wsReconnects: {
    name: 'trading_ws_reconnects_total',
    type: 'counter',
    help: 'Total number of WebSocket reconnection attempts',
    group: 'websocket',
    origin: 'spec',
  },
  wsConnectionStatus: {
    name: 'trading_ws_connection_status',
    type: 'gauge',
    help: 'Current WebSocket connection status (1=connected, 0=disconnected)',
    group: 'websocket',
    origin: 'spec',
  },
  wsLastMessageAge: {
    name: 'trading_ws_last_message_age_seconds',
    type: 'gauge',
    help: 'Seconds since the last frame arrived from the exchange (since start when none has)',
    group: 'websocket',
    origin: 'added',
  },

  // 6. Paper trading
  paperTrades: {
    name: 'trading_paper_trades_total',
    type: 'counter',
    help: 'Total number of paper trades executed',
    group: 'paper',
    origin: 'spec',
  },
  paperPortfolioValue: {
    name: 'trading_paper_portfolio_value',
    type: 'gauge',
    help: 'Current paper trading portfolio value in USD',
    group: 'paper',
    origin: 'spec',
  },
  paperPnl: {
    name: 'trading_paper_pnl',
    type: 'gauge',
    help: 'Current paper trading profit/loss in USD',
    group: 'paper',
    origin: 'spec',
  },
  paperFeesPaid: {
    name: 'trading_paper_fees_paid_total',
    type: 'counter',
    help: 'Total fees charged on paper trades in USD',
    group: 'paper',
    origin: 'added',
  },
  paperSlippageCost: {
    name: 'trading_paper_slippage_cost_total',
    type: 'counter',
    help: 'Total cost of slippage on paper trades in USD',
    group: 'paper',
    origin: 'added',
  },
  paperFillsDropped: {
    name: 'trading_paper_fills_dropped_total',
    type: 'counter',
    help: 'Total number of paper fills dropped because the trade log could not be written and its buffer was full',
    group: 'paper',
    origin: 'added',
  },
  paperFillsRefused: {
    name: 'trading_paper_fills_refused_total',
    type: 'counter',
    help: 'Total number of paper fills the database refused, set aside instead of blocking later fills',
    group: 'paper',
    origin: 'added',
  },
  paperTickDuration: {
    name: 'trading_paper_tick_duration_seconds',
    type: 'histogram',
    help: 'Duration of paper trading tick processing in seconds',
    group: 'paper',
    origin: 'spec',
    buckets: PAPER_TICK_DURATION_BUCKETS,
  },

  // 7. System health
  uptimeSeconds: {
    name: 'trading_uptime_seconds',
    type: 'gauge',
    help: 'Application uptime in seconds',
    group: 'system',
    origin: 'spec',
  },
  errors: {
    name: 'trading_errors_total',
    type: 'counter',
    help: 'Total number of errors logged by the application',
    group: 'system',
    origin: 'spec',
    labelNames: ['component'],
  },
  buildInfo: {
    name: 'trading_build_info',
    type: 'gauge',
    help: 'Always 1; the version label names the running build',
    group: 'system',
    origin: 'added',
    labelNames: ['version'],
  },

  // 8. Bus (NATS JetStream)
  busPublished: {
    name: 'trading_bus_published_total',
    type: 'counter',
    help: 'Total number of ticks JetStream acknowledged as new messages of the bus stream, by channel and symbol',
    group: 'bus',
    origin: 'added',
    labelNames: ['channel', 'symbol'],
  },
  busDuplicates: {
    name: 'trading_bus_duplicates_total',
    type: 'counter',
    help: 'Total number of ticks JetStream acknowledged as duplicates of a message it already held (same Nats-Msg-Id), by channel and symbol',
    group: 'bus',
    origin: 'added',
    labelNames: ['channel', 'symbol'],
  },
  busPublishFailures: {
    name: 'trading_bus_publish_failures_total',
    type: 'counter',
    help: 'Total number of publishes to the bus that JetStream did not acknowledge, by reason; their ticks wait in the spool',
    group: 'bus',
    origin: 'added',
    labelNames: ['reason'],
  },
  busConsumerPending: {
    name: 'trading_bus_consumer_pending',
    type: 'gauge',
    help: 'Messages of the stream not yet delivered to the durable consumer, as JetStream last reported',
    group: 'bus',
    origin: 'added',
    labelNames: ['consumer'],
  },
  busRedeliveries: {
    name: 'trading_bus_redeliveries_total',
    type: 'counter',
    help: 'Total number of messages a durable consumer received again after a nak or an expired ack wait',
    group: 'bus',
    origin: 'added',
    labelNames: ['consumer'],
  },

  // 9. Quotes (bookTicker)
  quotesReceived: {
    name: 'trading_quotes_received_total',
    type: 'counter',
    help: 'Total number of quotes (best bid and ask updates) received from exchange',
    group: 'quotes',
    origin: 'added',
  },
  bestBidPrice: {
    name: 'trading_best_bid_price',
    type: 'gauge',
    help: 'Current best bid price of the symbol (the highest price a buyer offers), from its latest quote or order book',
    group: 'quotes',
    origin: 'added',
    labelNames: ['symbol'],
  },
  bestAskPrice: {
    name: 'trading_best_ask_price',
    type: 'gauge',
    help: 'Current best ask price of the symbol (the lowest price a seller asks), from its latest quote or order book',
    group: 'quotes',
    origin: 'added',
    labelNames: ['symbol'],
  },
  spreadBps: {
    name: 'trading_spread_bps',
    type: 'gauge',
    help: 'Current bid-ask spread of the symbol in basis points: (ask - bid) / ((ask + bid) / 2) x 10^4',
    group: 'quotes',
    origin: 'added',
    labelNames: ['symbol'],
  },

  // 10. Order book (depth diffs and snapshots)
  bookUpdates: {
    name: 'trading_book_updates_total',
    type: 'counter',
    help: 'Total number of order book diff events applied to a synced book',
    group: 'book',
    origin: 'added',
  },
  bookResyncs: {
    name: 'trading_book_resyncs_total',
    type: 'counter',
    help: 'Total number of order book resyncs after a gap in diff update ids, by symbol (the first sync is not counted)',
    group: 'book',
    origin: 'added',
    labelNames: ['symbol'],
  },

  // 11. Storage over time (daily partitions, retention)
  storagePartitions: {
    name: 'trading_storage_partitions',
    type: 'gauge',
    help: "Daily partitions of the table held in PostgreSQL, tomorrow's included, by table",
    group: 'storage',
    origin: 'added',
    labelNames: ['table'],
  },
  storageOldestDay: {
    name: 'trading_storage_oldest_day_timestamp_seconds',
    type: 'gauge',
    help: 'Start of the oldest UTC day kept in PostgreSQL (seconds since the epoch), by table; older days were dropped by retention',
    group: 'storage',
    origin: 'added',
    labelNames: ['table'],
  },
} as const satisfies Record<string, MetricDefinition>;

/** The handle names of {@link METRIC_CATALOGUE}, e.g. `ticksReceived`. */
export type MetricKey = keyof typeof METRIC_CATALOGUE;

/**
 * Components that `trading_errors_total{component}` starts at zero, so rate()
 * and alerts see a series before the first error.
 */
export const DEFAULT_ERROR_COMPONENTS = [
  'app',
  'exchange',
  'market-data',
  'database',
  'cache',
  'paper-engine',
  'metrics',
  'bus',
] as const;
