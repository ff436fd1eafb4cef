import { ConfigError, type BackoffOptions, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BusRecordKind } from './record-kind.js';
import type { BusRecordSpool } from './spool-feeder.js';
import { DEFAULT_STREAM } from './stream.js';
import { busChannel } from './subjects.js';

/** Options of {@link startRecordPublisher} (and of the quote and book snapshot publishers). */
export interface RecordPublisherOptions<T> {
  /** The connection to publish on; the publisher never closes it. */
  nc: NatsConnection;
  /** What is published: {@link quoteKind}, {@link bookSnapshotKind}, {@link tickKind}. */
  kind: BusRecordKind<T>;
  /**
   * Where records wait while JetStream does not take them (durable:
   * `RecordSpool<T>` of `@trade/market-data` has this shape), in a
   * directory of this collector's own, one per kind. A spool left
   * non-empty by an earlier run is published first.
   */
  spool: BusRecordSpool<T>;
  /** The stream the messages must land in (sent as `Nats-Expected-Stream`). Default `TRADES`. */
  stream?: string;
  /** The channel token of the subjects and message ids. Default the kind's (`bookTicker`, `depth`). */
  channel?: string;
  /** Publishes waiting for their ack at once. Default 256. */
  maxInFlight?: number;
  /**
   * Records waiting in memory for a free publish slot; past it the
   * publisher spools, as when JetStream fails. Default 10,000.
   */
  maxQueuedRecords?: number;
  /**
   * Records held in memory in all (queued, in flight, waiting for the
   * disk); past it {@link RecordPublisher.offer} returns false. Reached only
   * when neither JetStream nor the spool takes records. Default 100,000.
   */
  maxBufferedRecords?: number;
  /** How long a publish waits for its ack before it counts as failed. Default 5,000 ms. */
  publishTimeoutMs?: number;
  /** Records per spool append at most. Default 1,000. */
  spoolBatchRecords?: number;
  /**
   * Delays between attempts to replay the spool while JetStream refuses
   * (an attempt starts at once when the connection comes back), and
   * between attempts of a refused spool append. Default 250 ms doubling up to 5 s.
   */
  retry?: BackoffOptions;
  metrics?: TradingMetrics;
  logger?: Logger;
}

/** Counters of a publisher since it started, and its state now. */
export interface RecordPublisherStats {
  /** Records taken by `offer()`. */
  readonly accepted: number;
  /** Acks of new messages (`trading_bus_published_total`). */
  readonly published: number;
  /** Acks that said duplicate (`trading_bus_duplicates_total`). */
  readonly duplicates: number;
  /** Publishes without an ack (`trading_bus_publish_failures_total`). */
  readonly failures: number;
  /** Records appended to the spool. */
  readonly spooled: number;
  /** Records published from the spool (each batch once all of it was acked). */
  readonly replayed: number;
  /** Records waiting in memory for a publish slot now. */
  readonly queued: number;
  /** Publishes waiting for their ack now. */
  readonly inFlight: number;
  /** Records waiting in memory for the spool now. */
  readonly waitingForDisk: number;
  /** Records in the spool now. */
  readonly spoolRecords: number;
  /** Records go to the spool (JetStream failed, or the spool is being replayed). */
  readonly spooling: boolean;
  /** The connection is up, as far as the client knows. */
  readonly connected: boolean;
}

/** What `health()` of a publisher says: for a collector's `/ready`. */
export interface RecordPublisherHealth {
  /** The connection is up, as far as the client knows. */
  readonly connected: boolean;
  /** Records go to the spool instead of JetStream. */
  readonly spooling: boolean;
  /** Neither JetStream nor the spool takes records: offer() refuses them. */
  readonly blocked: boolean;
  /** The last publish or spool error while spooling. */
  readonly reason?: string;
}

/** What `close()` of a publisher resolves with. */
export interface RecordPublisherCloseResult<T> {
  readonly published: number;
  readonly duplicates: number;
  /** Records appended to the spool during this run. */
  readonly spooled: number;
  /** Records in the spool at close, for the next run to publish first. */
  readonly leftInSpool: number;
  /** Records neither JetStream nor the spool took (both failing at close), oldest first. */
  readonly lost: readonly T[];
}

/** The options with their defaults, checked. */
export interface ResolvedPublisherOptions<T> {
  readonly nc: NatsConnection;
  readonly kind: BusRecordKind<T>;
  readonly spool: BusRecordSpool<T>;
  readonly stream: string;
  readonly channel: string;
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly maxBuffered: number;
  readonly publishTimeoutMs: number;
  readonly spoolBatch: number;
  readonly retry: BackoffOptions;
  readonly metrics: TradingMetrics | undefined;
  readonly logger: Logger | undefined;
}

/** A publisher's settings as given, and the names its options call the three limits. */
export interface PublisherSettings<T> {
  readonly nc: unknown;
  readonly kind: BusRecordKind<T>;
  readonly spool: unknown;
  readonly stream: string | undefined;
  readonly channel: string | undefined;
  readonly maxInFlight: number | undefined;
  readonly maxQueued: number | undefined;
  readonly maxBuffered: number | undefined;
  readonly publishTimeoutMs: number | undefined;
  readonly spoolBatch: number | undefined;
  readonly retry: BackoffOptions | undefined;
  readonly metrics: TradingMetrics | undefined;
  readonly logger: Logger | undefined;
  readonly names: {
    readonly maxQueued: string;
    readonly maxBuffered: string;
    readonly spoolBatch: string;
  };
  readonly defaults: {
    readonly maxQueued: number;
    readonly maxBuffered: number;
    readonly spoolBatch: number;
  };
}

/** The defaults of the three limits: a tick or a quote is small. */
export const RECORD_LIMITS = Object.freeze({
  maxQueued: 10_000,
  maxBuffered: 100_000,
  spoolBatch: 1_000,
});

/** Fills in the defaults of a record publisher's options; throws a `ConfigError` naming the first bad option. */
export function resolveRecordPublisherOptions<T>(
  options: RecordPublisherOptions<T>,
  defaults: PublisherSettings<T>['defaults'] = RECORD_LIMITS,
): ResolvedPublisherOptions<T> {
  return resolvePublisherSettings({
    ...options,
    stream: options.stream,
    channel: options.channel,
    maxInFlight: options.maxInFlight,
    publishTimeoutMs: options.publishTimeoutMs,
    retry: options.retry,
    metrics: options.metrics,
    logger: options.logger,
    maxQueued: options.maxQueuedRecords,
    maxBuffered: options.maxBufferedRecords,
    spoolBatch: options.spoolBatchRecords,
    names: {
      maxQueued: 'maxQueuedRecords',
      maxBuffered: 'maxBufferedRecords',
      spoolBatch: 'spoolBatchRecords',
    },
    defaults,
  });
}

/** Fills in the defaults; throws a `ConfigError` naming the first bad option. */
export function resolvePublisherSettings<T>(
  settings: PublisherSettings<T>,
): ResolvedPublisherOptions<T> {
  const { names, defaults } = settings;
  if (typeof (settings.nc as Partial<NatsConnection> | undefined)?.status !== 'function') {
    throw new ConfigError('nc', settings.nc, 'a NatsConnection');
  }
  const kind = settings.kind as Partial<BusRecordKind<T>> | undefined;
  if (
    typeof kind?.encode !== 'function' ||
    typeof kind.symbol !== 'function' ||
    typeof kind.id !== 'function'
  ) {
    throw new ConfigError('kind', settings.kind, 'a record kind such as quoteKind');
  }
  const spool = settings.spool as Partial<BusRecordSpool<T>> | undefined;
  if (
    typeof spool?.append !== 'function' ||
    typeof spool.next !== 'function' ||
    typeof spool.ack !== 'function'
  ) {
    throw new ConfigError('spool', settings.spool, 'a durable spool (append, next, ack)');
  }
  const maxInFlight = positiveInteger(settings.maxInFlight ?? 256, 'maxInFlight');
  const maxQueued = positiveInteger(settings.maxQueued ?? defaults.maxQueued, names.maxQueued);
  const maxBuffered = positiveInteger(
    settings.maxBuffered ?? defaults.maxBuffered,
    names.maxBuffered,
  );
  if (maxBuffered < maxQueued + maxInFlight) {
    throw new ConfigError(
      names.maxBuffered,
      maxBuffered,
      `at least ${names.maxQueued} + maxInFlight (${maxQueued + maxInFlight})`,
    );
  }
  const stream = settings.stream ?? DEFAULT_STREAM;
  if (!/^[^.*>\s]{1,255}$/.test(stream)) {
    throw new ConfigError('stream', stream, 'a stream name without dots, wildcards or spaces');
  }
  let channel: string;
  try {
    channel = busChannel(settings.channel ?? settings.kind.channel);
  } catch {
    throw new ConfigError('channel', settings.channel, 'a subject token such as trade');
  }
  return {
    nc: settings.nc as NatsConnection,
    kind: settings.kind,
    spool: settings.spool as BusRecordSpool<T>,
    stream,
    channel,
    maxInFlight,
    maxQueued,
    maxBuffered,
    publishTimeoutMs: positiveInteger(settings.publishTimeoutMs ?? 5_000, 'publishTimeoutMs'),
    spoolBatch: positiveInteger(settings.spoolBatch ?? defaults.spoolBatch, names.spoolBatch),
    retry: settings.retry ?? { initialMs: 250, maxMs: 5_000 },
    metrics: settings.metrics,
    logger: settings.logger,
  };
}

/** Returns `value` when it is a positive safe integer; throws a `ConfigError` naming `setting` otherwise. */
export function positiveInteger(value: unknown, setting: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(setting, value, 'a positive integer');
  }
  return value;
}
