import { Backoff, silentLogger, type Logger, type Tick } from '@trade/core';
import { jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { ensureDurableConsumer } from './ensure-consumer.js';
import { Progress } from './progress.js';
import { parseSubject } from './subjects.js';
import { decodeTick, type DecodedTick } from './tick-codec.js';
import {
  resolveConsumerOptions,
  type ResolvedConsumerOptions,
  type TickConsumerOptions,
  type TickConsumerStats,
} from './tick-consumer-options.js';

// How long close() waits for the server to confirm it has the last acks.
const FLUSH_TIMEOUT_MS = 5_000;
// How long a pull request lives before the client renews it.
const PULL_EXPIRES_MS = 5_000;

/** A message as it arrived, already decoded. */
interface Received {
  readonly msg: JsMsg;
  readonly tick: Tick;
}

/**
 * Pulls ticks from a durable JetStream consumer in batches and hands each
 * batch to the handler; its messages are acked once the handler resolved,
 * and nak'ed with a delay (so delivered again) when it rejects. Any number
 * of processes may pull from the same durable consumer: JetStream gives
 * each message to one of them at a time.
 *
 * At most `batchSize` messages wait in memory besides the batch in hand;
 * a message that is not a tick is reported and terminated.
 *
 * While the handler works (a database commit, say), the messages that
 * arrive are decoded, and the acks of the batch before go out: the next
 * batch is ready for the handler as soon as it resolves, and the process
 * is not idle while it waits.
 *
 * @example
 * ```ts
 * const consumer = await startTickConsumer({ nc, handler: (ticks) => store(ticks), metrics });
 * // on SIGTERM:
 * await consumer.close();
 * ```
 */
export class TickConsumer {
  readonly #o: ResolvedConsumerOptions;
  readonly #logger: Logger;
  readonly #buffer: Received[] = [];
  /** Messages of batches the handler took, acked at the end of this turn of the event loop. */
  #toAck: JsMsg[] = [];
  /** When the oldest buffered message arrived. */
  #bufferSince = 0;
  /** Told when a message arrives, or closing. */
  readonly #arrived = new Progress();
  /** Told when the batcher took a batch, or closing. */
  readonly #taken = new Progress();
  /** Told when a wait after a failure should end: closing. */
  readonly #alarm = new Progress();
  #messages: ConsumerMessages | undefined;
  #reading: Promise<void> = Promise.resolve();
  #batching: Promise<void> = Promise.resolve();
  #closing = false;
  #closePromise: Promise<TickConsumerStats> | undefined;
  #batches = 0;
  #ticks = 0;
  #redelivered = 0;
  #failedBatches = 0;
  #rejected = 0;
  #returned = 0;
  #pending = 0;

  /** Use {@link startTickConsumer}. */
  constructor(options: TickConsumerOptions) {
    this.#o = resolveConsumerOptions(options);
    this.#logger = this.#o.logger ?? silentLogger;
  }

  /** The durable consumer's name. */
  get name(): string {
    return this.#o.consumer;
  }

  /** Ensures the durable consumer and starts pulling. */
  async start(): Promise<void> {
    this.#o.metrics?.busRedeliveries.inc({ consumer: this.#o.consumer }, 0);
    this.#messages = await this.#consume();
    this.#reading = this.#read();
    this.#batching = this.#batch();
  }

  /** Counters since the start. */
  stats(): TickConsumerStats {
    return {
      batches: this.#batches,
      ticks: this.#ticks,
      redelivered: this.#redelivered,
      failedBatches: this.#failedBatches,
      rejected: this.#rejected,
      returned: this.#returned,
      pending: this.#pending,
    };
  }

  /**
   * Stops pulling, lets the batch in hand finish (acked once the handler
   * resolves), hands the messages received but not yet handed over back to
   * JetStream for another process, and resolves once the server has the
   * acks. The connection stays open.
   */
  close(): Promise<TickConsumerStats> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<TickConsumerStats> {
    this.#closing = true;
    this.#arrived.notify();
    this.#taken.notify();
    this.#alarm.notify();
    const stopped = this.#messages?.close();
    await this.#batching;
    this.#ackTaken();
    this.#giveBack(this.#buffer.splice(0).map((received) => received.msg));
    await this.#reading;
    await stopped;
    await flush(this.#o.nc);
    return this.stats();
  }

  async #consume(): Promise<ConsumerMessages> {
    const { nc, stream, consumer, filterSubject, ackWaitMs, maxAckPending, batchSize } = this.#o;
    const jsm = await jetstreamManager(nc);
    const info = await ensureDurableConsumer(
      jsm,
      {
        stream,
        name: consumer,
        filterSubject,
        ackWaitMs,
        maxAckPending,
        deliverPolicy: this.#o.deliverPolicy,
      },
      this.#logger,
    );
    this.#setPending(info.num_pending);
    const pull = await jsm.jetstream().consumers.get(stream, consumer);
    // Each pull request lives PULL_EXPIRES_MS with heartbeats at half of it: a pull lost
    // with a consumer leader (a server of the cluster died) is noticed after two missed
    // heartbeats and renewed, instead of after the client's default 30 s.
    return pull.consume({ max_messages: batchSize, expires: PULL_EXPIRES_MS });
  }

  /** Moves messages into the buffer, pausing while it holds a full batch. */
  async #read(): Promise<void> {
    const backoff = new Backoff(this.#o.retry);
    while (this.#messages) {
      try {
        for await (const msg of this.#messages) {
          if (this.#closing) {
            this.#giveBack([msg]);
            continue;
          }
          const tick = this.#receive(msg);
          if (tick === undefined) continue;
          if (this.#buffer.length === 0) this.#bufferSince = Date.now();
          this.#buffer.push({ msg, tick });
          this.#arrived.notify();
          while (!this.#closing && this.#buffer.length >= this.#o.batchSize) {
            await this.#taken.next();
          }
        }
      } catch (error) {
        this.#logger.warn({ err: error, consumer: this.#o.consumer }, 'bus: pulling failed');
      }
      if (this.#closing) return;
      // The pull ended without close (consumer deleted, connection closed): start again.
      this.#messages = undefined;
      while (!this.#closing && !this.#messages) {
        await this.#alarm.next(backoff.next());
        if (this.#closing) return;
        this.#messages = await this.#consume().catch((error: unknown) => {
          this.#logger.warn({ err: error, consumer: this.#o.consumer }, 'bus: cannot pull yet');
          return undefined;
        });
        if (this.#closing) await this.#messages?.close();
      }
    }
  }

  /** Hands the buffer over in batches of `batchSize`, or when its oldest message waited `maxWaitMs`. */
  async #batch(): Promise<void> {
    const { batchSize, maxWaitMs } = this.#o;
    const backoff = new Backoff(this.#o.retry);
    for (;;) {
      while (!this.#closing && this.#buffer.length === 0) await this.#arrived.next();
      while (!this.#closing && this.#buffer.length < batchSize) {
        const left = this.#bufferSince + maxWaitMs - Date.now();
        if (left <= 0) break;
        await this.#arrived.next(left);
      }
      if (this.#closing) return;
      const batch = this.#buffer.splice(0, batchSize);
      this.#bufferSince = Date.now();
      this.#taken.notify();
      const failed = await this.#handle(batch);
      if (failed.length === 0) {
        backoff.reset();
        continue;
      }
      // Delivered again after the delay; this process pauses as long.
      const delayMs = backoff.next();
      this.#reply(failed, (msg) => msg.nak(delayMs));
      await this.#alarm.next(delayMs);
    }
  }

  /**
   * Acks, naks or terms each message. On a closed connection that throws:
   * JetStream then delivers the messages again after the ack wait.
   */
  #reply(messages: readonly JsMsg[], reply: (msg: JsMsg) => void): void {
    try {
      for (const msg of messages) reply(msg);
    } catch (error) {
      this.#logger.warn({ err: error, consumer: this.#o.consumer }, 'bus: cannot answer JetStream');
    }
  }

  /** Counts a message, and decodes it: its tick, or `undefined` when it is not one (terminated). */
  #receive(msg: JsMsg): Tick | undefined {
    if (msg.redelivered) {
      this.#redelivered += 1;
      this.#o.metrics?.busRedeliveries.inc({ consumer: this.#o.consumer });
    }
    const decoded = decodeMessage(msg);
    if (decoded.ok) return decoded.tick;
    this.#reject(msg, decoded);
    return undefined;
  }

  /** One batch through the handler: acks it, or returns the messages to deliver again. */
  async #handle(batch: readonly Received[]): Promise<JsMsg[]> {
    const { metrics, consumer, handler } = this.#o;
    this.#setPending(batch.at(-1)!.msg.info.pending);
    const ticks = batch.map((received) => received.tick);
    try {
      await handler(ticks);
    } catch (error) {
      this.#failedBatches += 1;
      this.#logger.error(
        { err: error, consumer, ticks: ticks.length },
        'bus: handler failed; the batch will be delivered again',
      );
      metrics?.errors.inc({ component: 'bus' });
      return batch.map((received) => received.msg);
    }
    this.#ackSoon(batch);
    this.#batches += 1;
    this.#ticks += ticks.length;
    return [];
  }

  /**
   * Acks the batch once this turn of the event loop is over: by then the
   * next batch is with the handler, and the acks go out while it works.
   */
  #ackSoon(batch: readonly Received[]): void {
    if (this.#toAck.length === 0) setImmediate(() => this.#ackTaken());
    for (const received of batch) this.#toAck.push(received.msg);
  }

  #ackTaken(): void {
    const messages = this.#toAck;
    this.#toAck = [];
    this.#reply(messages, (msg) => msg.ack());
  }

  #reject(msg: JsMsg, decoded: Extract<DecodedTick, { ok: false }>): void {
    this.#rejected += 1;
    this.#reply([msg], (m) => m.term());
    this.#logger.error(
      { subject: msg.subject, seq: msg.seq, reason: decoded.reason, problem: decoded.message },
      'bus: message is not a tick; terminated',
    );
    this.#o.metrics?.errors.inc({ component: 'bus' });
    try {
      this.#o.onRejected?.({
        subject: msg.subject,
        seq: msg.seq,
        reason: decoded.reason,
        message: decoded.message,
        data: msg.data,
      });
    } catch (error) {
      this.#logger.error({ err: error }, 'bus: onRejected threw');
    }
  }

  /** Nak'ed without delay: another process takes them at once. */
  #giveBack(messages: readonly JsMsg[]): void {
    this.#reply(messages, (msg) => msg.nak());
    this.#returned += messages.length;
  }

  #setPending(pending: number): void {
    this.#pending = pending;
    this.#o.metrics?.busConsumerPending.set({ consumer: this.#o.consumer }, pending);
  }
}

function decodeMessage(msg: JsMsg): DecodedTick {
  const decoded = decodeTick(msg.data);
  if (!decoded.ok) return decoded;
  const subject = parseSubject(msg.subject);
  if (subject?.symbol !== decoded.tick.symbol) {
    return {
      ok: false,
      reason: 'symbol_mismatch',
      message: `a ${decoded.tick.symbol} tick on ${msg.subject}`,
    };
  }
  return decoded;
}

async function flush(nc: ResolvedConsumerOptions['nc']): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    nc.flush().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
}
