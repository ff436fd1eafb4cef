import type { Tick } from '@trade/core';
import { RecordPublisher } from './record-publisher.js';
import {
  resolvePublisherOptions,
  type TickPublisherOptions,
  type TickPublisherStats,
} from './tick-publisher-options.js';

/**
 * Publishes ticks to JetStream, each on `md.binance.<channel>.<SYMBOL>`
 * with `Nats-Msg-Id: binance:<channel>:<SYMBOL>:<tradeId>`, up to
 * `maxInFlight` waiting for their ack at once, in the order offered. A
 * tick counts as published once JetStream acked it.
 *
 * When a publish fails or the connection drops, the ticks waiting for an
 * ack and those queued go to the spool, oldest first, and so does every
 * tick offered after, until the spool has been replayed into JetStream
 * (spool first, so the order holds); then publishing is direct again. A
 * tick whose ack was lost is published again from the spool and JetStream
 * drops the repeat (within the stream's duplicate window).
 *
 * The {@link RecordPublisher} of ticks, its options named for ticks
 * (`maxQueuedTicks`, `maxBufferedTicks`, `spoolBatchTicks`) and its spool a
 * {@link BusSpool}.
 *
 * @example
 * ```ts
 * const publisher = await startTickPublisher({ nc, spool, metrics, logger });
 * for await (const tick of ticks) while (!publisher.offer(tick)) await publisher.whenWritable();
 * const { lost } = await publisher.close();
 * ```
 */
export class TickPublisher extends RecordPublisher<Tick> {
  /** Use {@link startTickPublisher}. */
  constructor(options: TickPublisherOptions) {
    super(resolvePublisherOptions(options));
  }

  /** Counters since the start, and the state now; `spoolTicks` is `spoolRecords`. */
  override stats(): TickPublisherStats {
    const stats = super.stats();
    return { ...stats, spoolTicks: stats.spoolRecords };
  }
}
