import { silentLogger, type Logger } from '@trade/core';
import { watchConnection } from './connection-watch.js';
import { Progress } from './progress.js';
import { PublishCounters } from './publish-counters.js';
import { PublishWindow, type PublishOutcome } from './publish-window.js';
import type {
  RecordPublisherCloseResult,
  RecordPublisherHealth,
  RecordPublisherStats,
  ResolvedPublisherOptions,
} from './record-publisher-options.js';
import { RecordQueue } from './record-queue.js';
import { startRecordSender, type RecordSender } from './record-sender.js';
import { SpoolFeeder } from './spool-feeder.js';
import { SpoolReplayer } from './spool-replayer.js';

/** A spool batch being published: acked to the spool once every record of it is acked. */
interface Replay<T> {
  readonly ticks: readonly T[];
  next: number;
  acked: number;
  readonly done: (ok: boolean) => void;
}

/**
 * Publishes records of one kind (ticks, quotes, book snapshots) to
 * JetStream, each on `md.binance.<channel>.<SYMBOL>` with `Nats-Msg-Id:
 * binance:<channel>:<SYMBOL>:<id>`, up to `maxInFlight` waiting for their
 * ack at once, in the order offered. A record counts as published once
 * JetStream acked it; any number of collectors publishing the same records
 * leave one copy.
 *
 * When a publish fails or the connection drops, the records waiting for an
 * ack and those queued go to the spool, oldest first, and so does every
 * record offered after, until the spool has been replayed into JetStream
 * (spool first, so the order holds); then publishing is direct again. A
 * record whose ack was lost is published again from the spool and
 * JetStream drops the repeat (within the stream's duplicate window).
 *
 * @example
 * ```ts
 * const quotes = await startQuotePublisher({ nc, spool: quoteSpool, metrics, logger });
 * client.on('quote', (quote) => quotes.offer(quote));
 * const { lost } = await quotes.close();
 * ```
 */
export class RecordPublisher<T> {
  readonly #options: ResolvedPublisherOptions<T>;
  readonly #logger: Logger;
  readonly #sender: RecordSender<T>;
  readonly #window: PublishWindow<T>;
  readonly #feeder: SpoolFeeder<T>;
  readonly #replayer: SpoolReplayer<T>;
  readonly #queue = new RecordQueue<T>();
  readonly #check: ((record: T) => void) | undefined;
  readonly #plural: string;
  /** Told whenever the state moves: an ack, a mode change, an append. */
  readonly #progress = new Progress();
  /** Told when a replay attempt should not wait: reconnected, or closing. */
  readonly #alarm = new Progress();
  #spooling: boolean;
  #connected = true;
  #replay: Replay<T> | undefined;
  #draining = false;
  /**
   * After a failed replay attempt, one publish at a time until JetStream acks
   * one: a window opened while JetStream is coming back could see its first
   * publishes refused and later ones stored, and the retry would store the
   * first ones after them, out of order.
   */
  #probing = false;
  #pumpScheduled = false;
  #closing = false;
  #closed = false;
  #closePromise: Promise<RecordPublisherCloseResult<T>> | undefined;
  #stopWatching: (() => void) | undefined;
  readonly #counters: PublishCounters<T>;
  /** The last spool error, or publish error, while spooling. */
  #lastError: string | undefined;
  #accepted = 0;
  #spooled = 0;

  /** Takes checked options: use {@link startRecordPublisher} (or the publisher of a kind). */
  constructor(options: ResolvedPublisherOptions<T>) {
    this.#options = options;
    this.#logger = this.#options.logger ?? silentLogger;
    const { nc, kind, channel, stream, publishTimeoutMs, metrics } = this.#options;
    this.#check = kind.check;
    this.#plural = kind.plural;
    this.#counters = new PublishCounters(channel, kind.symbol, metrics);
    this.#sender = startRecordSender(nc, kind, { channel, stream, timeoutMs: publishTimeoutMs });
    this.#window = new PublishWindow(
      (tick) => this.#sender.send(tick),
      (tick, outcome, abandoned) => this.#settled(tick, outcome, abandoned),
    );
    this.#feeder = new SpoolFeeder({
      spool: this.#options.spool,
      batchTicks: this.#options.spoolBatch,
      retry: this.#options.retry,
      onAppended: (count) => {
        this.#spooled += count;
        this.#progress.notify();
      },
      onAppendFailed: (error, count) => {
        this.#lastError = messageOf(error);
        this.#logger.error(
          { err: error, channel: this.#options.channel, records: count },
          'bus: spool append failed; retrying',
        );
        this.#options.metrics?.spoolAppendFailures.inc();
        this.#options.metrics?.errors.inc({ component: 'bus' });
      },
    });
    this.#replayer = new SpoolReplayer({
      spool: this.#options.spool,
      feeder: this.#feeder,
      retry: this.#options.retry,
      alarm: this.#alarm,
      logger: this.#logger,
      metrics: this.#options.metrics,
      publish: (ticks) => this.#publishReplay(ticks),
      active: () => this.#spooling && !this.#closing,
      connected: () => this.#connected,
      onEmpty: () => this.#leaveSpooling(),
      lastError: () => this.#lastError,
    });
    this.#spooling = !this.#options.spool.isEmpty;
  }

  /** Starts watching the connection, and replaying a spool an earlier run left. */
  start(): void {
    this.#stopWatching = watchConnection(this.#options.nc, {
      onDown: () => this.#disconnected(),
      onUp: () => this.#reconnected(),
    });
    if (this.#spooling) {
      this.#logger.info(
        { channel: this.#options.channel, records: this.#options.spool.rowCount },
        'bus: publishing the spool left by an earlier run first',
      );
      this.#startDrain();
    }
  }

  /**
   * Hands one record over without waiting. Returns false when the
   * publisher holds `maxBuffered` records in memory (neither JetStream nor
   * the spool takes them: keep the record, {@link whenWritable} says when
   * to offer it again) or is closing. Throws an `InvalidInputError` for a
   * record its kind checks and refuses (a book snapshot out of order).
   */
  offer(tick: T): boolean {
    if (this.#closing || this.#held() >= this.#options.maxBuffered) return false;
    this.#check?.(tick);
    this.#accepted += 1;
    if (this.#spooling) {
      this.#feeder.pushOne(tick);
    } else {
      this.#queue.push(tick);
      // A backlog goes to the spool, unless the spool is refusing too (maxBuffered bounds it then).
      if (this.#queue.length > this.#options.maxQueued && !this.#feeder.failing) {
        this.#enterSpooling('backlog');
      } else {
        this.#pumpSoon();
      }
    }
    return true;
  }

  /** Resolves when {@link offer} takes ticks again (at once when it does). */
  async whenWritable(): Promise<void> {
    while (!this.#closing && this.#held() >= this.#options.maxBuffered) {
      await this.#progress.next();
    }
  }

  /**
   * Resolves once every tick offered so far is acked by JetStream: queued
   * ones sent, the spool replayed. Waits through an outage; resolves at
   * close whatever is left.
   */
  async whenIdle(): Promise<void> {
    while (!this.#closed && !this.#idle()) await this.#progress.next();
  }

  /** Counters since the start, and the state now. */
  stats(): RecordPublisherStats {
    return {
      accepted: this.#accepted,
      published: this.#counters.published,
      duplicates: this.#counters.duplicates,
      failures: this.#counters.failures,
      spooled: this.#spooled,
      replayed: this.#replayer.replayed,
      queued: this.#queue.length,
      inFlight: this.#window.size,
      waitingForDisk: this.#feeder.length,
      spoolRecords: this.#options.spool.rowCount,
      spooling: this.#spooling,
      connected: this.#connected,
    };
  }

  /** Whether ticks reach JetStream now; serve it as the collector's readiness. */
  health(): RecordPublisherHealth {
    const blocked = this.#held() >= this.#options.maxBuffered;
    const reason = this.#spooling ? this.#lastError : undefined;
    return {
      connected: this.#connected,
      spooling: this.#spooling,
      blocked,
      ...(reason === undefined ? {} : { reason }),
    };
  }

  /**
   * Stops taking ticks and resolves once each one taken is acked by
   * JetStream or in the spool: queued ticks are published while JetStream
   * takes them (spooled at its first failure), a spool batch being replayed
   * finishes, what waits for the disk gets one more append. The spool is
   * left for the next run; the connection stays open.
   */
  close(): Promise<RecordPublisherCloseResult<T>> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<RecordPublisherCloseResult<T>> {
    this.#closing = true;
    this.#alarm.notify();
    while (!this.#spooling && !this.#idle()) await this.#progress.next();
    while (this.#draining) await this.#progress.next();
    const lost = await this.#feeder.finish();
    this.#stopWatching?.();
    this.#sender.close();
    this.#closed = true;
    this.#progress.notify();
    if (lost.length > 0) {
      this.#logger.error(
        { channel: this.#options.channel, records: lost.length },
        `bus: ${this.#plural} neither published nor spooled`,
      );
      this.#options.metrics?.errors.inc({ component: 'bus' });
    }
    return {
      published: this.#counters.published,
      duplicates: this.#counters.duplicates,
      spooled: this.#spooled,
      leftInSpool: this.#options.spool.rowCount,
      lost,
    };
  }

  #held(): number {
    return this.#queue.length + this.#window.size + this.#feeder.length;
  }

  #idle(): boolean {
    return !this.#spooling && this.#queue.length === 0 && this.#window.size === 0;
  }

  /**
   * Pumps once this turn of the event loop is over: the ticks offered and
   * the slots freed by acks meanwhile go out together, in one write to the
   * socket. Pumping at each offer or ack wrote a tick or two at a time (the
   * client flushes once per microtask turn, the source awaits between
   * ticks, acks arrive a few per read): a system call per tick here and on
   * the server.
   */
  #pumpSoon(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Sends what may go now: the queue when direct, the spool batch when replaying. */
  #pump(): void {
    if (!this.#connected) return;
    const { maxInFlight } = this.#options;
    if (!this.#spooling) {
      while (this.#window.size < maxInFlight && this.#queue.length > 0) {
        this.#window.publish(this.#queue.shift()!);
      }
      return;
    }
    const replay = this.#replay;
    const limit = this.#probing ? 1 : maxInFlight;
    while (replay && this.#window.size < limit && replay.next < replay.ticks.length) {
      this.#window.publish(replay.ticks[replay.next++]!);
    }
  }

  #settled(tick: T, outcome: PublishOutcome, abandoned: boolean): void {
    this.#counters.count(tick, outcome);
    if (abandoned) return;
    if (!outcome.ok) this.#lastError = this.#counters.lastError;
    if (!outcome.ok) {
      if (!this.#spooling) this.#enterSpooling(outcome.reason);
      else this.#endReplay(false);
    } else if (this.#replay) {
      this.#probing = false;
      if (++this.#replay.acked === this.#replay.ticks.length) this.#endReplay(true);
    }
    this.#pumpSoon();
    this.#progress.notify();
  }

  /** From now on ticks go to the spool: first those waiting for an ack, then the queued ones. */
  #enterSpooling(why: string): void {
    this.#spooling = true;
    this.#probing = true;
    const inFlight = this.#window.abandon();
    const queued = this.#queue.takeAll();
    this.#feeder.push(inFlight);
    this.#feeder.push(queued);
    this.#logger.warn(
      { why, error: this.#lastError, inFlight: inFlight.length, queued: queued.length },
      `bus: JetStream is not taking ${this.#plural}; spooling them until it does`,
    );
    this.#progress.notify();
    this.#startDrain();
  }

  #leaveSpooling(): void {
    // Dropped meanwhile: the replayer waits for the connection and looks again.
    if (!this.#connected) return;
    this.#spooling = false;
    this.#lastError = undefined;
    this.#queue.pushAll(this.#feeder.takeAll());
    this.#logger.info(
      { replayed: this.#replayer.replayed },
      'bus: spool replayed; publishing directly',
    );
    this.#pump();
    this.#progress.notify();
  }

  #startDrain(): void {
    if (this.#draining || this.#closing) return;
    this.#draining = true;
    void this.#replayer.run().finally(() => {
      this.#draining = false;
      this.#progress.notify();
      // Spooling began again while the loop was ending.
      if (this.#spooling) this.#startDrain();
    });
  }

  /** Publishes one spool batch; true once every tick of it is acked. */
  #publishReplay(ticks: readonly T[]): Promise<boolean> {
    if (ticks.length === 0) return Promise.resolve(true);
    if (!this.#connected) return Promise.resolve(false);
    return new Promise((done) => {
      this.#replay = { ticks, next: 0, acked: 0, done };
      this.#pump();
    });
  }

  #endReplay(ok: boolean): void {
    const replay = this.#replay;
    if (!replay) return;
    this.#replay = undefined;
    // The rest of the batch is in the spool still: the next attempt sends it all again,
    // one publish at a time until one is acked.
    if (!ok) {
      this.#window.abandon();
      this.#probing = true;
    }
    replay.done(ok);
  }

  #disconnected(): void {
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    this.#logger.warn({}, 'bus: connection to NATS lost');
    if (!this.#spooling) this.#enterSpooling('disconnected');
    else this.#endReplay(false);
    this.#progress.notify();
  }

  #reconnected(): void {
    if (this.#options.nc.isClosed()) return;
    this.#connected = true;
    this.#logger.info({}, 'bus: connection to NATS back');
    this.#alarm.notify();
    this.#pump();
    this.#progress.notify();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
