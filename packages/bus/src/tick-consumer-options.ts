import type { BackoffOptions, Logger, Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  resolveRecordConsumerOptions,
  type ConsumerDeliverPolicy,
  type RecordConsumerStats,
  type RejectedBusMessage,
  type ResolvedConsumerOptions,
} from './record-consumer-options.js';
import { tickKind } from './tick-codec.js';

export type { ConsumerDeliverPolicy, RejectedBusMessage } from './record-consumer-options.js';

/** The durable consumer's name unless told otherwise (`NATS_CONSUMER` in the app). */
export const DEFAULT_CONSUMER = 'store';

/** Options of {@link startTickConsumer}. */
export interface TickConsumerOptions {
  /** The connection to pull on; the consumer never closes it. */
  nc: NatsConnection;
  /**
   * Takes one batch, oldest first; resolve once the ticks are safe (their
   * rows committed or spooled). The batch's messages are acked then, and
   * not before; a rejection has them delivered again after a delay. It
   * should resolve within `ackWaitMs`, or JetStream hands the messages to
   * another process meanwhile. A message may come more than once: store by
   * (symbol, trade id).
   */
  handler: (ticks: Tick[]) => Promise<void>;
  /** Default `TRADES`. */
  stream?: string;
  /** The durable pull consumer every process of this role shares. Default `store`. */
  consumer?: string;
  /**
   * Only messages on this subject pattern, when the consumer is created.
   * Default `md.binance.trade.>`: the stream carries other channels
   * (quotes, book snapshots). An existing consumer created without a
   * filter delivers those too: they are acked and skipped, with a warning
   * at start that says how to fix it.
   */
  filterSubject?: string;
  /**
   * Where a consumer created now starts: `all`, the whole stream (a writer
   * must store every tick), or `new`, only messages published after it was
   * created (a strategy trades from now on, not on history). An existing
   * consumer keeps where it is; a different policy there is logged. Default `all`.
   */
  deliverPolicy?: ConsumerDeliverPolicy;
  /** Ticks per handler call at most. Default 500. */
  batchSize?: number;
  /** A batch goes to the handler once its first message has waited this long. Default 250 ms. */
  maxWaitMs?: number;
  /** How long JetStream waits for an ack before delivering a message again (when the consumer is created). Default 30,000 ms. */
  ackWaitMs?: number;
  /** Messages delivered and not yet acked, over every process, when the consumer is created. Default 10,000. */
  maxAckPending?: number;
  /** Delays after a batch the handler rejected (the nak delay, and the pause before the next batch). Default 1 s doubling up to 30 s. */
  retry?: BackoffOptions;
  /** Told of each message that is not a tick; it is terminated (never delivered again). */
  onRejected?: (message: RejectedBusMessage) => void;
  metrics?: TradingMetrics;
  logger?: Logger;
}

/** Counters of a tick consumer since it started. */
export interface TickConsumerStats extends RecordConsumerStats {
  /** Ticks the handler took, their messages acked (`records`). */
  readonly ticks: number;
}

/** Fills in the defaults; throws a `ConfigError` naming the first bad option. */
export function resolveConsumerOptions(
  options: TickConsumerOptions,
): ResolvedConsumerOptions<Tick> {
  return resolveRecordConsumerOptions<Tick>({
    ...options,
    kind: tickKind,
    consumer: options.consumer ?? DEFAULT_CONSUMER,
  });
}
