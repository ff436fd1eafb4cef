import { ConfigError, type BackoffOptions, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BusRecordKind, BusRejectReason } from './record-kind.js';
import { positiveInteger } from './record-publisher-options.js';
import { DEFAULT_STREAM } from './stream.js';
import { channelFilter } from './subjects.js';

/** Options of {@link startRecordConsumer} (and of the quote and book snapshot consumers). */
export interface RecordConsumerOptions<T> {
  /** The connection to pull on; the consumer never closes it. */
  nc: NatsConnection;
  /** What is consumed: {@link quoteKind}, {@link bookSnapshotKind}, {@link tickKind}. */
  kind: BusRecordKind<T>;
  /**
   * Takes one batch, oldest first; resolve once the records are safe
   * (their rows committed or spooled). The batch's messages are acked
   * then, and not before; a rejection has them delivered again after a
   * delay. It should resolve within `ackWaitMs`, or JetStream hands the
   * messages to another process meanwhile. A message may come more than
   * once: store by (symbol, id).
   */
  handler: (records: T[]) => Promise<void>;
  /** The durable pull consumer every process of this role shares, e.g. `store-quotes`. */
  consumer: string;
  /** Default `TRADES`. */
  stream?: string;
  /**
   * Only messages on this subject pattern, when the consumer is created.
   * Default the kind's channel: `md.binance.<channel>.>`.
   */
  filterSubject?: string;
  /**
   * Where a consumer created now starts: `all`, the whole stream (a writer
   * must store every record), or `new`, only messages published after it
   * was created. An existing consumer keeps where it is; a different
   * policy there is logged. Default `all`.
   */
  deliverPolicy?: ConsumerDeliverPolicy;
  /** Records per handler call at most. Default 500. */
  batchSize?: number;
  /** A batch goes to the handler once its first message has waited this long. Default 250 ms. */
  maxWaitMs?: number;
  /** How long JetStream waits for an ack before delivering a message again (when the consumer is created). Default 30,000 ms. */
  ackWaitMs?: number;
  /** Messages delivered and not yet acked, over every process, when the consumer is created. Default 10,000. */
  maxAckPending?: number;
  /** Delays after a batch the handler rejected (the nak delay, and the pause before the next batch). Default 1 s doubling up to 30 s. */
  retry?: BackoffOptions;
  /** Told of each message that is not a record of the kind; it is terminated (never delivered again). */
  onRejected?: (message: RejectedBusMessage) => void;
  metrics?: TradingMetrics;
  logger?: Logger;
}

/** Where a durable consumer created by a consumer of the bus starts in the stream. */
export type ConsumerDeliverPolicy = 'all' | 'new';

const DELIVER_POLICIES: readonly ConsumerDeliverPolicy[] = ['all', 'new'];

/** A message of the stream that is not a record of the consumer's kind. */
export interface RejectedBusMessage {
  readonly subject: string;
  /** Its sequence in the stream. */
  readonly seq: number;
  readonly reason: BusRejectReason;
  readonly message: string;
  /** Its bytes as received. */
  readonly data: Uint8Array;
}

/** Counters of a consumer since it started. */
export interface RecordConsumerStats {
  /** Batches the handler took. */
  readonly batches: number;
  /** Records the handler took, their messages acked. */
  readonly records: number;
  /** Messages that came again (after a nak or an expired ack wait). */
  readonly redelivered: number;
  /** Batches the handler rejected, their messages nak'ed. */
  readonly failedBatches: number;
  /** Messages that were not records of the kind, terminated. */
  readonly rejected: number;
  /**
   * Messages of another channel than the consumer's, acked without the
   * handler: only a durable consumer created without a filter (or a wider
   * one) delivers them.
   */
  readonly skipped: number;
  /** Messages received but not handed over before close, nak'ed for another process. */
  readonly returned: number;
  /** Messages of the stream not yet delivered to the consumer, as JetStream last said. */
  readonly pending: number;
}

/** The options with their defaults, checked. */
export interface ResolvedConsumerOptions<T> {
  readonly nc: NatsConnection;
  readonly kind: BusRecordKind<T>;
  readonly handler: (records: T[]) => Promise<void>;
  readonly stream: string;
  readonly consumer: string;
  readonly filterSubject: string;
  readonly deliverPolicy: ConsumerDeliverPolicy;
  readonly batchSize: number;
  readonly maxWaitMs: number;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
  readonly retry: BackoffOptions;
  readonly onRejected: ((message: RejectedBusMessage) => void) | undefined;
  readonly metrics: TradingMetrics | undefined;
  readonly logger: Logger | undefined;
}

const NAME = /^[^.*>\s]{1,255}$/;

/** Fills in the defaults; throws a `ConfigError` naming the first bad option. */
export function resolveRecordConsumerOptions<T>(
  options: RecordConsumerOptions<T>,
): ResolvedConsumerOptions<T> {
  if (typeof (options.nc as Partial<NatsConnection> | undefined)?.status !== 'function') {
    throw new ConfigError('nc', options.nc, 'a NatsConnection');
  }
  const kind = options.kind as Partial<BusRecordKind<T>> | undefined;
  if (
    typeof kind?.decode !== 'function' ||
    typeof kind.symbol !== 'function' ||
    typeof kind.channel !== 'string'
  ) {
    throw new ConfigError('kind', options.kind, 'a record kind such as quoteKind');
  }
  if (typeof options.handler !== 'function') {
    throw new ConfigError(
      'handler',
      options.handler,
      `a function taking a batch of ${kind.plural}`,
    );
  }
  const stream = options.stream ?? DEFAULT_STREAM;
  if (!NAME.test(stream)) {
    throw new ConfigError('stream', stream, 'a stream name without dots, wildcards or spaces');
  }
  const { consumer } = options;
  if (typeof consumer !== 'string' || !NAME.test(consumer)) {
    throw new ConfigError('consumer', consumer, 'a name without dots, wildcards or spaces');
  }
  const filterSubject = options.filterSubject ?? channelFilter(kind.channel);
  if (filterSubject.trim() === '' || /\s/.test(filterSubject)) {
    throw new ConfigError('filterSubject', filterSubject, 'a subject pattern');
  }
  const deliverPolicy = options.deliverPolicy ?? 'all';
  if (!DELIVER_POLICIES.includes(deliverPolicy)) {
    throw new ConfigError('deliverPolicy', deliverPolicy, 'all or new');
  }
  return {
    nc: options.nc,
    kind: options.kind,
    handler: options.handler,
    stream,
    consumer,
    filterSubject,
    deliverPolicy,
    batchSize: positiveInteger(options.batchSize ?? 500, 'batchSize'),
    maxWaitMs: positiveInteger(options.maxWaitMs ?? 250, 'maxWaitMs'),
    ackWaitMs: positiveInteger(options.ackWaitMs ?? 30_000, 'ackWaitMs'),
    maxAckPending: positiveInteger(options.maxAckPending ?? 10_000, 'maxAckPending'),
    retry: options.retry ?? { initialMs: 1_000, maxMs: 30_000 },
    onRejected: options.onRejected,
    metrics: options.metrics,
    logger: options.logger,
  };
}
