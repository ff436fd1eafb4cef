import type { Tick } from '@trade/core';
import type { NatsConnection } from '@nats-io/nats-core';
import { startRecordSender, type RecordSender, type RecordSenderOptions } from './record-sender.js';
import { tickKind } from './tick-codec.js';

/** Options of {@link startTickSender}. */
export type TickSenderOptions = RecordSenderOptions;

/** Publishes ticks to JetStream, each resolving with its ack. */
export type TickSender = RecordSender<Tick>;

/**
 * The record sender of ticks: subject `md.binance.<channel>.<SYMBOL>`,
 * header `Nats-Msg-Id: binance:<channel>:<SYMBOL>:<tradeId>`.
 *
 * @example
 * ```ts
 * const sender = startTickSender(nc, { channel: 'trade', stream: 'TRADES', timeoutMs: 5000 });
 * const { duplicate } = await sender.send(tick);
 * sender.close();
 * ```
 */
export function startTickSender(nc: NatsConnection, options: TickSenderOptions): TickSender {
  return startRecordSender(nc, tickKind, options);
}
