import { Backoff, silentLogger, type Logger } from '@trade/core';
import { jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { ensureDurableConsumer } from './ensure-consumer.js';
import { Progress } from './progress.js';
import type { RecordConsumerStats, ResolvedConsumerOptions } from './record-consumer-options.js';
import type { BusRecordKind, BusRejection, DecodedRecord } from './record-kind.js';
import { filterChannel, parseSubject } from './subjects.js';

// How long close() waits for the server to confirm it has the last acks.
const FLUSH_TIMEOUT_MS = 5_000;
// How long a pull request lives before the client renews it.
const PULL_EXPIRES_MS = 5_000;

/** A message as it arrived, already decoded. */
interface Received<T> {
  readonly msg: JsMsg;
  readonly record: T;
}

/**
 * Pulls records of one kind (ticks, quotes, book snapshots) from a durable
 * JetStream consumer in batches and hands each batch to the handler; its
 * messages are acked once the handler resolved, and nak'ed with a delay
 * (so delivered again) when it rejects. Any number of processes may pull
 * from the same durable consumer: JetStream gives each message to one of
 * them at a time.
 *
 * At most `batchSize` messages wait in memory besides the batch in hand;
 * a message that is not a record of the kind is reported and terminated;
 * one of another channel (delivered by a consumer created without a
 * filter) is acked and counted as `skipped`.
 *
 * While the handler works (a database commit, say), the messages that
 * arrive are decoded, and the acks of the batch before go out: the next
 * batch is ready for the handler as soon as it resolves, and the process
 * is not idle while it waits.
 *
 * @example
 * ```ts
 * const consumer = await startQuoteConsumer({ nc, consumer: 'store-quotes', handler: (quotes) => store(quotes), metrics });
 * // on SIGTERM:
 * await consumer.close();
 * ```
 */
export class RecordConsumer<T> {
  readonly #o: ResolvedConsumerOptions<T>;
  readonly #kind: BusRecordKind<T>;
  /** The channel the consumer asked for; messages of others are skipped. */
  readonly #channel: string | undefined;
  readonly #logger: Logger;
  readonly #buffer: Received<T>[] = [];
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
  #closePromise: Promise<RecordConsumerStats> | undefined;
  #batches = 0;
  #records = 0;
  #redelivered = 0;
  #failedBatches = 0;
  #rejected = 0;
  #skipped = 0;
  #returned = 0;
  #pending = 0;

  /** Takes checked options: use {@link startRecordConsumer} (or the consumer of a kind). */
  constructor(options: ResolvedConsumerOptions<T>) {
    this.#o = options;
    this.#kind = options.kind;
    this.#channel = filterChannel(options.filterSubject);
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
  stats(): RecordConsumerStats {
    return {
      batches: this.#batches,
      records: this.#records,
      redelivered: this.#redelivered,
      failedBatches: this.#failedBatches,
      rejected: this.#rejected,
      skipped: this.#skipped,
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
  close(): Promise<RecordConsumerStats> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<RecordConsumerStats> {
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
          const record = this.#receive(msg);
          if (record === undefined) continue;
          if (this.#buffer.length === 0) this.#bufferSince = Date.now();
          this.#buffer.push({ msg, record });
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

  /**
   * Counts a message, and decodes it: its record, or `undefined` when it is
   * not one (terminated) or of another channel (acked).
   */
  #receive(msg: JsMsg): T | undefined {
    if (msg.redelivered) {
      this.#redelivered += 1;
      this.#o.metrics?.busRedeliveries.inc({ consumer: this.#o.consumer });
    }
    const subject = parseSubject(msg.subject);
    if (subject !== undefined && this.#channel !== undefined && subject.channel !== this.#channel) {
      this.#skip(msg, subject.channel);
      return undefined;
    }
    const decoded = this.#decode(msg, subject?.symbol);
    if (decoded.ok) return decoded.record;
    this.#reject(msg, decoded);
    return undefined;
  }

  #decode(msg: JsMsg, subjectSymbol: string | undefined): DecodedRecord<T> {
    const decoded = this.#kind.decode(msg.data);
    if (!decoded.ok) return decoded;
    const symbol = this.#kind.symbol(decoded.record);
    if (subjectSymbol !== symbol) {
      return {
        ok: false,
        reason: 'symbol_mismatch',
        message: `a ${symbol} ${this.#kind.noun} on ${msg.subject}`,
      };
    }
    return decoded;
  }

  /** A message of another channel: not for this handler, and not lost to the consumers of its own. */
  #skip(msg: JsMsg, channel: string): void {
    this.#reply([msg], (m) => m.ack());
    if (this.#skipped++ === 0) {
      this.#logger.warn(
        {
          consumer: this.#o.consumer,
          stream: this.#o.stream,
          channel,
          expected: this.#channel,
          subject: msg.subject,
        },
        `bus: a message of another channel than ${this.#channel ?? ''}: acked and skipped, as every such one will be (see the warning at start)`,
      );
    }
  }

  /** One batch through the handler: acks it, or returns the messages to deliver again. */
  async #handle(batch: readonly Received<T>[]): Promise<JsMsg[]> {
    const { metrics, consumer, handler } = this.#o;
    this.#setPending(batch.at(-1)!.msg.info.pending);
    const records = batch.map((received) => received.record);
    try {
      await handler(records);
    } catch (error) {
      this.#failedBatches += 1;
      this.#logger.error(
        { err: error, consumer, records: records.length },
        'bus: handler failed; the batch will be delivered again',
      );
      metrics?.errors.inc({ component: 'bus' });
      return batch.map((received) => received.msg);
    }
    this.#ackSoon(batch);
    this.#batches += 1;
    this.#records += records.length;
    return [];
  }

  /**
   * Acks the batch once this turn of the event loop is over: by then the
   * next batch is with the handler, and the acks go out while it works.
   */
  #ackSoon(batch: readonly Received<T>[]): void {
    if (this.#toAck.length === 0) setImmediate(() => this.#ackTaken());
    for (const received of batch) this.#toAck.push(received.msg);
  }

  #ackTaken(): void {
    const messages = this.#toAck;
    this.#toAck = [];
    this.#reply(messages, (msg) => msg.ack());
  }

  #reject(msg: JsMsg, decoded: BusRejection): void {
    this.#rejected += 1;
    this.#reply([msg], (m) => m.term());
    this.#logger.error(
      { subject: msg.subject, seq: msg.seq, reason: decoded.reason, problem: decoded.message },
      `bus: message is not a ${this.#kind.noun}; terminated`,
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

async function flush(nc: ResolvedConsumerOptions<unknown>['nc']): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    nc.flush().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
}
