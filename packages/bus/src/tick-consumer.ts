import type { Tick } from '@trade/core';
import { RecordConsumer } from './record-consumer.js';
import {
  resolveConsumerOptions,
  type TickConsumerOptions,
  type TickConsumerStats,
} from './tick-consumer-options.js';

/**
 * Pulls ticks from a durable JetStream consumer in batches and hands each
 * batch to the handler; its messages are acked once the handler resolved,
 * and nak'ed with a delay (so delivered again) when it rejects. Any number
 * of processes may pull from the same durable consumer: JetStream gives
 * each message to one of them at a time.
 *
 * At most `batchSize` messages wait in memory besides the batch in hand;
 * a message that is not a tick is reported and terminated. The
 * {@link RecordConsumer} of ticks, filtered to `md.binance.trade.>` by
 * default, its durable consumer `store` by default.
 *
 * @example
 * ```ts
 * const consumer = await startTickConsumer({ nc, handler: (ticks) => store(ticks), metrics });
 * // on SIGTERM:
 * await consumer.close();
 * ```
 */
export class TickConsumer extends RecordConsumer<Tick> {
  /** Use {@link startTickConsumer}. */
  constructor(options: TickConsumerOptions) {
    super(resolveConsumerOptions(options));
  }

  /** Counters since the start; `ticks` is `records`. */
  override stats(): TickConsumerStats {
    const stats = super.stats();
    return { ...stats, ticks: stats.records };
  }

  /**
   * Stops pulling, lets the batch in hand finish (acked once the handler
   * resolves), hands the messages received but not yet handed over back to
   * JetStream for another process, and resolves once the server has the
   * acks. The connection stays open.
   */
  override close(): Promise<TickConsumerStats> {
    return super.close().then((stats) => ({ ...stats, ticks: stats.records }));
  }
}
