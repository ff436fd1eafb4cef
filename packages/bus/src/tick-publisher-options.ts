import { ConfigError, type BackoffOptions, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BusSpool } from './spool-feeder.js';
import { DEFAULT_STREAM } from './stream.js';
import { TRADE_CHANNEL, busChannel } from './subjects.js';

/** Options of {@link startTickPublisher}. */
export interface TickPublisherOptions {
  /** The connection to publish on; the publisher never closes it. */
  nc: NatsConnection;
  /**
   * Where ticks wait while JetStream does not take them (durable: a
   * `TickSpool` of `@trade/market-data` has this shape), in a directory of
   * this collector's own. A spool left non-empty by an earlier run is
   * published first.
   */
  spool: BusSpool;
  /** The stream the messages must land in (sent as `Nats-Expected-Stream`). Default `TRADES`. */
  stream?: string;
  /** The channel token of the subjects. Default `trade`. */
  channel?: string;
  /** Publishes waiting for their ack at once. Default 256. */
  maxInFlight?: number;
  /**
   * Ticks waiting in memory for a free publish slot; past it the publisher
   * spools, as when JetStream fails (unless the spool is refusing appends:
   * `maxBufferedTicks` bounds them then). Default 10,000.
   */
  maxQueuedTicks?: number;
  /**
   * Ticks held in memory in all (queued, in flight, waiting for the disk);
   * past it {@link TickPublisher.offer} returns false. Reached only when
   * neither JetStream nor the spool takes ticks. Default 100,000.
   */
  maxBufferedTicks?: number;
  /** How long a publish waits for its ack before it counts as failed. Default 5,000 ms. */
  publishTimeoutMs?: number;
  /** Ticks per spool append at most. Default 1,000. */
  spoolBatchTicks?: number;
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
export interface TickPublisherStats {
  /** Ticks taken by {@link TickPublisher.offer}. */
  readonly accepted: number;
  /** Acks of new messages (`trading_bus_published_total`). */
  readonly published: number;
  /** Acks that said duplicate (`trading_bus_duplicates_total`). */
  readonly duplicates: number;
  /** Publishes without an ack (`trading_bus_publish_failures_total`). */
  readonly failures: number;
  /** Ticks appended to the spool. */
  readonly spooled: number;
  /** Ticks published from the spool (each batch once all of it was acked). */
  readonly replayed: number;
  /** Ticks waiting in memory for a publish slot now. */
  readonly queued: number;
  /** Publishes waiting for their ack now. */
  readonly inFlight: number;
  /** Ticks waiting in memory for the spool now. */
  readonly waitingForDisk: number;
  /** Ticks in the spool now. */
  readonly spoolTicks: number;
  /** Ticks go to the spool (JetStream failed, or the spool is being replayed). */
  readonly spooling: boolean;
  /** The connection is up, as far as the client knows. */
  readonly connected: boolean;
}

/** What {@link TickPublisher.health} says: for a collector's `/ready`. */
export interface TickPublisherHealth {
  /** The connection is up, as far as the client knows. */
  readonly connected: boolean;
  /** Ticks go to the spool instead of JetStream. */
  readonly spooling: boolean;
  /** Neither JetStream nor the spool takes ticks: offer() refuses them. */
  readonly blocked: boolean;
  /** The last publish or spool error while spooling. */
  readonly reason?: string;
}

/** What {@link TickPublisher.close} resolves with. */
export interface TickPublisherCloseResult {
  readonly published: number;
  readonly duplicates: number;
  /** Ticks appended to the spool during this run. */
  readonly spooled: number;
  /** Ticks in the spool at close, for the next run to publish first. */
  readonly leftInSpool: number;
  /** Ticks neither JetStream nor the spool took (both failing at close), oldest first. */
  readonly lost: readonly Tick[];
}

/** The options with their defaults, checked. */
export interface ResolvedPublisherOptions {
  readonly nc: NatsConnection;
  readonly spool: BusSpool;
  readonly stream: string;
  readonly channel: string;
  readonly maxInFlight: number;
  readonly maxQueuedTicks: number;
  readonly maxBufferedTicks: number;
  readonly publishTimeoutMs: number;
  readonly spoolBatchTicks: number;
  readonly retry: BackoffOptions;
  readonly metrics: TradingMetrics | undefined;
  readonly logger: Logger | undefined;
}

/** Fills in the defaults; throws a `ConfigError` naming the first bad option. */
export function resolvePublisherOptions(options: TickPublisherOptions): ResolvedPublisherOptions {
  if (typeof (options.nc as Partial<NatsConnection> | undefined)?.status !== 'function') {
    throw new ConfigError('nc', options.nc, 'a NatsConnection');
  }
  const spool = options.spool as Partial<BusSpool> | undefined;
  if (
    typeof spool?.append !== 'function' ||
    typeof spool.next !== 'function' ||
    typeof spool.ack !== 'function'
  ) {
    throw new ConfigError('spool', options.spool, 'a durable spool (append, next, ack)');
  }
  const maxInFlight = positiveInteger(options.maxInFlight ?? 256, 'maxInFlight');
  const maxQueuedTicks = positiveInteger(options.maxQueuedTicks ?? 10_000, 'maxQueuedTicks');
  const maxBufferedTicks = positiveInteger(options.maxBufferedTicks ?? 100_000, 'maxBufferedTicks');
  if (maxBufferedTicks < maxQueuedTicks + maxInFlight) {
    throw new ConfigError(
      'maxBufferedTicks',
      maxBufferedTicks,
      `at least maxQueuedTicks + maxInFlight (${maxQueuedTicks + maxInFlight})`,
    );
  }
  const stream = options.stream ?? DEFAULT_STREAM;
  if (!/^[^.*>\s]{1,255}$/.test(stream)) {
    throw new ConfigError('stream', stream, 'a stream name without dots, wildcards or spaces');
  }
  let channel: string;
  try {
    channel = busChannel(options.channel ?? TRADE_CHANNEL);
  } catch {
    throw new ConfigError('channel', options.channel, 'a subject token such as trade');
  }
  return {
    nc: options.nc,
    spool: options.spool,
    stream,
    channel,
    maxInFlight,
    maxQueuedTicks,
    maxBufferedTicks,
    publishTimeoutMs: positiveInteger(options.publishTimeoutMs ?? 5_000, 'publishTimeoutMs'),
    spoolBatchTicks: positiveInteger(options.spoolBatchTicks ?? 1_000, 'spoolBatchTicks'),
    retry: options.retry ?? { initialMs: 250, maxMs: 5_000 },
    metrics: options.metrics,
    logger: options.logger,
  };
}

/** Returns `value` when it is a positive safe integer; throws a `ConfigError` naming `setting` otherwise. */
export function positiveInteger(value: unknown, setting: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(setting, value, 'a positive integer');
  }
  return value;
}
