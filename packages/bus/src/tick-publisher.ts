import { silentLogger, type Logger, type Tick } from '@trade/core';
import { watchConnection } from './connection-watch.js';
import { Progress } from './progress.js';
import { PublishCounters } from './publish-counters.js';
import { PublishWindow, type PublishOutcome } from './publish-window.js';
import { SpoolFeeder } from './spool-feeder.js';
import { SpoolReplayer } from './spool-replayer.js';
import {
  resolvePublisherOptions,
  type ResolvedPublisherOptions,
  type TickPublisherCloseResult,
  type TickPublisherHealth,
  type TickPublisherOptions,
  type TickPublisherStats,
} from './tick-publisher-options.js';
import { TickQueue } from './tick-queue.js';
import { startTickSender, type TickSender } from './tick-sender.js';

/** A spool batch being published: acked to the spool once every tick of it is acked. */
interface Replay {
  readonly ticks: readonly Tick[];
  next: number;
  acked: number;
  readonly done: (ok: boolean) => void;
}

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
 * @example
 * ```ts
 * const publisher = await startTickPublisher({ nc, spool, metrics, logger });
 * for await (const tick of ticks) while (!publisher.offer(tick)) await publisher.whenWritable();
 * const { lost } = await publisher.close();
 * ```
 */
export class TickPublisher {
  readonly #options: ResolvedPublisherOptions;
  readonly #logger: Logger;
  readonly #sender: TickSender;
  readonly #window: PublishWindow;
  readonly #feeder: SpoolFeeder;
  readonly #replayer: SpoolReplayer;
  readonly #queue = new TickQueue();
  /** Told whenever the state moves: an ack, a mode change, an append. */
  readonly #progress = new Progress();
  /** Told when a replay attempt should not wait: reconnected, or closing. */
  readonly #alarm = new Progress();
  #spooling: boolean;
  #connected = true;
  #replay: Replay | undefined;
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
  #closePromise: Promise<TickPublisherCloseResult> | undefined;
  #stopWatching: (() => void) | undefined;
  readonly #counters: PublishCounters;
  /** The last spool error, or publish error, while spooling. */
  #lastError: string | undefined;
  #accepted = 0;
  #spooled = 0;

  /** Use {@link startTickPublisher}. */
  constructor(options: TickPublisherOptions) {
    this.#options = resolvePublisherOptions(options);
    this.#logger = this.#options.logger ?? silentLogger;
    const { nc, channel, stream, publishTimeoutMs, metrics } = this.#options;
    this.#counters = new PublishCounters(channel, metrics);
    this.#sender = startTickSender(nc, { channel, stream, timeoutMs: publishTimeoutMs });
    this.#window = new PublishWindow(
      (tick) => this.#sender.send(tick),
      (tick, outcome, abandoned) => this.#settled(tick, outcome, abandoned),
    );
    this.#feeder = new SpoolFeeder({
      spool: this.#options.spool,
      batchTicks: this.#options.spoolBatchTicks,
      retry: this.#options.retry,
      onAppended: (count) => {
        this.#spooled += count;
        this.#progress.notify();
      },
      onAppendFailed: (error, count) => {
        this.#lastError = messageOf(error);
        this.#logger.error({ err: error, ticks: count }, 'bus: spool append failed; retrying');
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
        { ticks: this.#options.spool.tickCount },
        'bus: publishing the spool left by an earlier run first',
      );
      this.#startDrain();
    }
  }

  /**
   * Hands one tick over without waiting. Returns false when the publisher
   * holds `maxBufferedTicks` in memory (neither JetStream nor the spool
   * takes ticks: keep the tick, {@link whenWritable} says when to offer it
   * again) or is closing.
   */
  offer(tick: Tick): boolean {
    if (this.#closing || this.#held() >= this.#options.maxBufferedTicks) return false;
    this.#accepted += 1;
    if (this.#spooling) {
      this.#feeder.pushOne(tick);
    } else {
      this.#queue.push(tick);
      // A backlog goes to the spool, unless the spool is refusing too (maxBufferedTicks bounds it then).
      if (this.#queue.length > this.#options.maxQueuedTicks && !this.#feeder.failing) {
        this.#enterSpooling('backlog');
      } else {
        this.#pumpSoon();
      }
    }
    return true;
  }

  /** Resolves when {@link offer} takes ticks again (at once when it does). */
  async whenWritable(): Promise<void> {
    while (!this.#closing && this.#held() >= this.#options.maxBufferedTicks) {
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
  stats(): TickPublisherStats {
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
      spoolTicks: this.#options.spool.tickCount,
      spooling: this.#spooling,
      connected: this.#connected,
    };
  }

  /** Whether ticks reach JetStream now; serve it as the collector's readiness. */
  health(): TickPublisherHealth {
    const blocked = this.#held() >= this.#options.maxBufferedTicks;
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
  close(): Promise<TickPublisherCloseResult> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<TickPublisherCloseResult> {
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
      this.#logger.error({ ticks: lost.length }, 'bus: ticks neither published nor spooled');
      this.#options.metrics?.errors.inc({ component: 'bus' });
    }
    return {
      published: this.#counters.published,
      duplicates: this.#counters.duplicates,
      spooled: this.#spooled,
      leftInSpool: this.#options.spool.tickCount,
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

  #settled(tick: Tick, outcome: PublishOutcome, abandoned: boolean): void {
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
      'bus: JetStream is not taking ticks; spooling them until it does',
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
  #publishReplay(ticks: readonly Tick[]): Promise<boolean> {
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
