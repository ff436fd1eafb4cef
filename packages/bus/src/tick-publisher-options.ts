import type { BackoffOptions, Logger, Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  RECORD_LIMITS,
  resolvePublisherSettings,
  type RecordPublisherCloseResult,
  type RecordPublisherHealth,
  type RecordPublisherStats,
  type ResolvedPublisherOptions,
} from './record-publisher-options.js';
import type { BusRecordSpool, BusSpool } from './spool-feeder.js';
import { tickKind } from './tick-codec.js';

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

/** Counters of a tick publisher since it started, and its state now. */
export interface TickPublisherStats extends RecordPublisherStats {
  /** Ticks in the spool now (`spoolRecords`). */
  readonly spoolTicks: number;
}

/** What {@link TickPublisher.health} says: for a collector's `/ready`. */
export type TickPublisherHealth = RecordPublisherHealth;

/** What {@link TickPublisher.close} resolves with; `lost` holds ticks neither JetStream nor the spool took. */
export type TickPublisherCloseResult = RecordPublisherCloseResult<Tick>;

/** Fills in the defaults; throws a `ConfigError` naming the first bad option. */
export function resolvePublisherOptions(
  options: TickPublisherOptions,
): ResolvedPublisherOptions<Tick> {
  const resolved = resolvePublisherSettings<Tick>({
    nc: options.nc,
    kind: tickKind,
    spool: options.spool,
    stream: options.stream,
    channel: options.channel,
    maxInFlight: options.maxInFlight,
    maxQueued: options.maxQueuedTicks,
    maxBuffered: options.maxBufferedTicks,
    publishTimeoutMs: options.publishTimeoutMs,
    spoolBatch: options.spoolBatchTicks,
    retry: options.retry,
    metrics: options.metrics,
    logger: options.logger,
    names: {
      maxQueued: 'maxQueuedTicks',
      maxBuffered: 'maxBufferedTicks',
      spoolBatch: 'spoolBatchTicks',
    },
    defaults: RECORD_LIMITS,
  });
  return { ...resolved, spool: recordSpoolOf(options.spool) };
}

/** A tick spool (`tickCount`) seen as a record spool (`rowCount`). */
function recordSpoolOf(spool: BusSpool): BusRecordSpool<Tick> {
  return {
    append: (ticks) => spool.append(ticks),
    next: () => spool.next(),
    ack: () => spool.ack(),
    get isEmpty() {
      return spool.isEmpty;
    },
    get rowCount() {
      return spool.tickCount;
    },
  };
}

export { positiveInteger } from './record-publisher-options.js';
