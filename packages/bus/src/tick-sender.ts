import type { Tick } from '@trade/core';
import type { JetStreamClient } from '@nats-io/jetstream';
import { tradeSubject } from './subjects.js';
import { encodeTick } from './tick-codec.js';

/** Options of {@link tickSender}. */
export interface TickSenderOptions {
  /** The channel token of the subjects, e.g. `trade`. */
  channel: string;
  /** The stream the messages must land in (`Nats-Expected-Stream`). */
  stream: string;
  /** How long a publish waits for its ack. */
  timeoutMs: number;
}

/**
 * The one place a tick becomes a JetStream publish: subject
 * `md.binance.<channel>.<SYMBOL>`, header `Nats-Msg-Id:
 * binance:<channel>:<SYMBOL>:<tradeId>`, the tick's JSON as the body.
 * Resolves with JetStream's ack.
 *
 * @example
 * ```ts
 * const send = tickSender(jetstream(nc), { channel: 'trade', stream: 'TRADES', timeoutMs: 5000 });
 * const { duplicate } = await send(tick);
 * ```
 */
export function tickSender(
  js: JetStreamClient,
  options: TickSenderOptions,
): (tick: Tick) => Promise<{ duplicate: boolean }> {
  const { channel, stream, timeoutMs } = options;
  const subjects = new Map<string, string>();
  return (tick) => {
    let subject = subjects.get(tick.symbol);
    if (subject === undefined) {
      subject = tradeSubject(tick.symbol, channel);
      subjects.set(tick.symbol, subject);
    }
    return js.publish(subject, encodeTick(tick), {
      // tradeMsgId(), without checking again what a Tick already guarantees.
      msgID: `binance:${channel}:${tick.symbol}:${tick.tradeId}`,
      timeout: timeoutMs,
      expect: { streamName: stream },
    });
  };
}
