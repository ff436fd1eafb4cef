import { JetStreamApiError, type ApiError } from '@nats-io/jetstream';
import {
  createInbox,
  headers,
  NoRespondersError,
  TimeoutError,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import type { BusRecordKind } from './record-kind.js';
import { tradeMsgId, tradeSubject } from './subjects.js';

/** Options of {@link startRecordSender}. */
export interface RecordSenderOptions {
  /** The channel token of the subjects and message ids, e.g. `trade`. */
  channel: string;
  /** The stream the messages must land in (`Nats-Expected-Stream`). */
  stream: string;
  /** How long a publish waits for its ack. */
  timeoutMs: number;
}

/** Publishes records to JetStream, each resolving with its ack. */
export interface RecordSender<T> {
  /**
   * Publishes one record; resolves with JetStream's ack (`duplicate` said by
   * the server), rejects when JetStream refused it, no stream captures its
   * subject, or no ack came within the timeout.
   */
  send(record: T): Promise<{ duplicate: boolean }>;
  /** Stops listening for acks: the publishes still waiting reject. */
  close(): void;
}

/** Where a symbol's records go: its subject, and its message ids but the id. */
interface Route {
  readonly subject: string;
  readonly msgIdPrefix: string;
}

interface Waiting {
  readonly subject: string;
  readonly sentAt: number;
  readonly resolve: (ack: { duplicate: boolean }) => void;
  readonly reject: (error: Error) => void;
}

const decoder = new TextDecoder();

/**
 * The one place a record becomes a JetStream publish: subject
 * `md.binance.<channel>.<SYMBOL>`, header `Nats-Msg-Id:
 * binance:<channel>:<SYMBOL>:<id>` (the trade id, or the update id), the
 * kind's JSON as the body.
 *
 * What `JetStreamClient.publish` does, without its cost per message (a
 * request object with two errors made up front for their stack traces, and
 * a timer): every publish names a reply subject under one inbox this
 * sender subscribes to, its acks are matched by number, and one sweep a few
 * times per timeout fails those that waited too long. At tens of thousands
 * of ticks a second that cost was most of the collector's CPU.
 *
 * @example
 * ```ts
 * const sender = startRecordSender(nc, quoteKind, { channel: 'bookTicker', stream: 'TRADES', timeoutMs: 5000 });
 * const { duplicate } = await sender.send(quote);
 * sender.close();
 * ```
 */
export function startRecordSender<T>(
  nc: NatsConnection,
  kind: BusRecordKind<T>,
  options: RecordSenderOptions,
): RecordSender<T> {
  const { channel, stream, timeoutMs } = options;
  const { encode } = kind;
  const symbolOf = kind.symbol;
  const idOf = kind.id;
  const inbox = createInbox();
  const prefixLength = inbox.length + 1;
  // In the order sent: the oldest first, as the sweep needs.
  const waiting = new Map<number, Waiting>();
  const routes = new Map<string, Route>();
  let next = 0;
  let closed = false;

  const settle = (msg: Msg): void => {
    const id = Number(msg.subject.slice(prefixLength));
    const entry = waiting.get(id);
    if (entry === undefined) return; // expired meanwhile
    waiting.delete(id);
    const outcome = readAck(msg, entry.subject);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome);
  };
  const acks: Subscription = nc.subscribe(`${inbox}.*`, {
    callback: (error, msg) => {
      if (error === null) settle(msg);
    },
  });

  const sweep = setInterval(
    () => {
      const expiredBefore = Date.now() - timeoutMs;
      for (const [id, entry] of waiting) {
        if (entry.sentAt > expiredBefore) break;
        waiting.delete(id);
        entry.reject(new TimeoutError());
      }
    },
    Math.max(10, Math.min(250, timeoutMs / 4)),
  );
  sweep.unref();

  return {
    send(record) {
      if (closed) return Promise.reject(new Error('the sender is closed'));
      const symbol = symbolOf(record);
      let route = routes.get(symbol);
      if (route === undefined) {
        // Checked once per symbol; the id is checked as a record of its kind guarantees.
        const subject = tradeSubject(symbol, channel);
        route = { subject, msgIdPrefix: tradeMsgId(symbol, 0, channel).slice(0, -1) };
        routes.set(symbol, route);
      }
      const { subject } = route;
      const h = headers();
      h.set('Nats-Msg-Id', `${route.msgIdPrefix}${idOf(record)}`);
      h.set('Nats-Expected-Stream', stream);
      const id = next++;
      return new Promise((resolve, reject) => {
        // Thrown by a closed or draining connection: nothing was sent.
        nc.publish(subject, encode(record), { reply: `${inbox}.${id}`, headers: h });
        waiting.set(id, { subject, sentAt: Date.now(), resolve, reject });
      });
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      acks.unsubscribe();
      for (const entry of waiting.values()) entry.reject(new Error('the sender is closed'));
      waiting.clear();
    },
  };
}

/** JetStream's answer to a publish: its ack, or why it did not store the message. */
function readAck(msg: Msg, subject: string): { duplicate: boolean } | Error {
  if (msg.data.length === 0) {
    // A status without a body: 503 when no stream captures the subject.
    return msg.headers?.code === 503
      ? new NoRespondersError(subject)
      : new Error(`unexpected status ${msg.headers?.code ?? 'none'} instead of an ack`);
  }
  const text = decoder.decode(msg.data);
  let ack: { stream?: string; duplicate?: boolean; error?: ApiError };
  try {
    ack = JSON.parse(text) as typeof ack;
  } catch {
    return new Error(`not an ack: ${text.slice(0, 200)}`);
  }
  if (ack.error) return new JetStreamApiError(ack.error);
  if (!ack.stream) return new Error(`not an ack: ${text.slice(0, 200)}`);
  return { duplicate: ack.duplicate === true };
}
