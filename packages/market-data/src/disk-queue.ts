import { Backoff, type BackoffOptions, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { BatchWriter } from './batch-writer.js';
import { lostRanges, type LostTickRange } from './lost-ranges.js';
import type { MarketDataHealth } from './market-data-service-types.js';
import { Outage } from './outage.js';
import type { Progress } from './progress.js';
import { sleep } from './sleep.js';
import type { TickSpool } from './tick-spool.js';

// Lost ranges listed in the log line at close (all of them are in the result).
const LOGGED_RANGES = 50;

/** A batch bound for the spool, in order, not on disk yet. */
export interface DiskEntry {
  readonly ticks: Tick[];
  /** The batch in flight this is a copy of: once that is stored, the copy is not needed. */
  readonly copyOf: { readonly stored: boolean } | undefined;
  /** Settles once the batch is on disk, in the database, or given up at close. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/** Options of {@link DiskQueue}. */
export interface DiskQueueOptions {
  spool: Pick<TickSpool, 'append' | 'isEmpty' | 'settled' | 'tickCount'>;
  /** Inserts the head when the spool is replayed, and a batch the disk refuses at close. */
  writer: Pick<BatchWriter, 'insert' | 'databaseError'>;
  logger: Logger;
  metrics?: TradingMetrics | undefined;
  /** The delays between failed appends. */
  retry: BackoffOptions;
  /** Ticks waiting for the disk at which the channel stops draining. */
  maxBufferedTicks: number;
  /** Fired at close: a retry stops waiting. */
  signal: AbortSignal;
  /** Told each time a batch moves, or an append fails. */
  progress: Progress;
  /** Close has begun: a failed append gets one insert, then is given up. */
  stopping: () => boolean;
  /** The service takes no more ticks: it is not blocked. */
  stopped: () => boolean;
  /** Ticks held in memory (said when ingest blocks, and in {@link DiskQueue.health}). */
  heldTicks: () => number;
  /** A batch left the queue (before {@link Progress.notify}). */
  onOffDisk: () => void;
}

/**
 * The batches bound for the spool, in order: appended one at a time, a
 * failed append (a full disk) retried with backoff, the batches behind it
 * waiting. Keeps the spool's outage and the blocked state (a whole bound's
 * worth of ticks waiting and the disk failing), and at close the batches
 * neither the disk nor the database took.
 *
 * @example
 * ```ts
 * const disk = new DiskQueue({ spool, writer, logger, retry, maxBufferedTicks, signal, progress, ... });
 * await disk.push(batch, undefined).settled; // on disk, in the database, or given up at close
 * ```
 */
export class DiskQueue {
  readonly #spool: DiskQueueOptions['spool'];
  readonly #writer: DiskQueueOptions['writer'];
  readonly #logger: Logger;
  readonly #metrics: TradingMetrics | undefined;
  readonly #retry: BackoffOptions;
  readonly #maxBufferedTicks: number;
  readonly #signal: AbortSignal;
  readonly #progress: Progress;
  readonly #isStopping: () => boolean;
  readonly #isStopped: () => boolean;
  readonly #heldTicks: () => number;
  readonly #onOffDisk: () => void;

  /** Batches bound for the spool, oldest first; the head is appended (or inserted) first. */
  readonly #diskQueue: DiskEntry[] = [];
  #diskQueuedTicks = 0;
  /** The loop appending {@link #diskQueue}, while it runs. */
  #diskRun: Promise<void> | undefined;
  /** The head of {@link #diskQueue} is being appended or inserted: nobody else takes it. */
  #diskHeadBusy = false;
  /** Batches given up at close: lost unless their in-flight original was stored. */
  readonly #givenUp: DiskEntry[] = [];
  /** An insert failed during close: the last chances at close go to the disk only. */
  #databaseFailedAtStop = false;

  readonly #spoolOutage = new Outage();
  /** Ends the append loop's backoff wait early (the disk may have room again). */
  #wakeAppend: (() => void) | undefined;
  #blockedSince: number | undefined;
  #spooled = 0;
  #spoolAppendFailures = 0;

  constructor(options: DiskQueueOptions) {
    this.#spool = options.spool;
    this.#writer = options.writer;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#retry = options.retry;
    this.#maxBufferedTicks = options.maxBufferedTicks;
    this.#signal = options.signal;
    this.#progress = options.progress;
    this.#isStopping = options.stopping;
    this.#isStopped = options.stopped;
    this.#heldTicks = options.heldTicks;
    this.#onOffDisk = options.onOffDisk;
  }

  /** Batches waiting for the disk. */
  get length(): number {
    return this.#diskQueue.length;
  }

  /** Ticks waiting for the disk. */
  get ticks(): number {
    return this.#diskQueuedTicks;
  }

  /** Ticks that may still wait for the disk before the channel stops draining. */
  get room(): number {
    return this.#maxBufferedTicks - this.#diskQueuedTicks;
  }

  /** Nothing waits in the spool, on disk or on its way there. */
  get spoolEmpty(): boolean {
    return this.#diskQueue.length === 0 && this.#spool.isEmpty;
  }

  /** Ticks appended to the spool. */
  get spooled(): number {
    return this.#spooled;
  }

  /** Appends that failed. */
  get appendFailures(): number {
    return this.#spoolAppendFailures;
  }

  /** Whether ticks are being taken, and the spool's and the database's last errors. */
  health(): MarketDataHealth {
    const spoolError = this.#spoolOutage.message;
    const databaseError = this.#writer.databaseError;
    const errors = {
      ...(spoolError === undefined ? {} : { spoolError }),
      ...(databaseError === undefined ? {} : { databaseError }),
    };
    if (this.#blockedSince === undefined) return { blocked: false, ...errors };
    return {
      blocked: true,
      reason: `the spool cannot be written (${spoolError ?? 'unknown error'}) and the database does not keep up (${databaseError ?? 'no failed insert, too slow'}); ${this.#heldTicks()} ticks held in memory`,
      since: this.#blockedSince,
      ...errors,
    };
  }

  /** Queues `ticks` for the spool, behind every batch already queued for it. */
  push(ticks: Tick[], copyOf: DiskEntry['copyOf']): DiskEntry {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const entry: DiskEntry = { ticks, copyOf, settled, settle };
    this.#diskQueue.push(entry);
    this.#diskQueuedTicks += ticks.length;
    this.#kickDisk();
    this.updateBlocked();
    return entry;
  }

  /** `entry`'s original was stored: the copy is not needed, unless it is being appended right now. */
  discard(entry: DiskEntry): void {
    if (!(this.#diskHeadBusy && this.#diskQueue[0] === entry)) this.#offDisk(entry);
  }

  /**
   * Inserts the head straight from memory, the spool on disk holding
   * nothing older: a full disk need not hold ticks up once the database
   * answers. False when the database refused it.
   */
  async replayHead(): Promise<boolean> {
    const head = this.#diskQueue[0];
    if (!head) {
      await this.#spool.settled();
      return true;
    }
    if (this.#diskHeadBusy) {
      // Being appended: it is read back from the disk next.
      await this.#progress.next();
      return true;
    }
    this.#diskHeadBusy = true;
    let stored = false;
    try {
      stored = await this.#writer.insert(head.ticks);
    } finally {
      this.#diskHeadBusy = false;
    }
    if (!stored) {
      this.#metrics?.batchRetries.inc();
      this.#progress.notify();
      return false;
    }
    this.#offDisk(head);
    return true;
  }

  /** Resolves once the append loop has ended (at close: every batch appended, inserted or given up). */
  async whenIdle(): Promise<void> {
    while (this.#diskRun) await this.#diskRun;
  }

  /**
   * The ticks given up at close whose original was not stored, per symbol
   * and trade-id range, and their number; logged when there are any.
   */
  reportLost(): { lost: LostTickRange[]; lostTicks: number } {
    const given = this.#givenUp.filter((entry) => !entry.copyOf?.stored).map((e) => e.ticks);
    const lost = lostRanges(given);
    const lostTicks = lost.reduce((sum, range) => sum + range.count, 0);
    if (lostTicks > 0) {
      this.#logger.error(
        {
          lostTicks,
          ranges: lost.length,
          lost: lost.slice(0, LOGGED_RANGES),
          spoolError: this.#spoolOutage.message,
          databaseError: this.#writer.databaseError,
        },
        'market-data: ticks neither stored nor spooled at stop',
      );
      this.#metrics?.errors.inc({ component: 'market-data' });
    }
    return { lost, lostTicks };
  }

  /** Blocked: the disk bound is reached and the spool fails, so the channel no longer drains. */
  updateBlocked(): void {
    const blocked = !this.#isStopped() && this.#diskBehind && this.#spoolOutage.failing;
    if (blocked === (this.#blockedSince !== undefined)) return;
    if (blocked) {
      this.#blockedSince = Date.now();
      this.#metrics?.ingestBlocked.set(1);
      this.#logger.error(
        {
          heldTicks: this.#heldTicks(),
          spoolError: this.#spoolOutage.message,
          databaseError: this.#writer.databaseError,
        },
        'market-data: ingest blocked: neither the database nor the spool takes ticks; the channel stops draining until one does',
      );
    } else {
      const blockedMs = Date.now() - this.#blockedSince!;
      this.#blockedSince = undefined;
      this.#metrics?.ingestBlocked.set(0);
      this.#logger.info({ blockedMs }, 'market-data: ingest resumed');
    }
  }

  updateSpoolGauge(): void {
    this.#metrics?.spoolTicks.set(this.#spool.tickCount);
  }

  /** Takes `entry` off the queue: on disk, in the database, no longer needed, or given up. */
  #offDisk(entry: DiskEntry): void {
    const index = this.#diskQueue.indexOf(entry);
    if (index !== -1) {
      this.#diskQueue.splice(index, 1);
      this.#diskQueuedTicks -= entry.ticks.length;
    }
    entry.settle();
    this.updateBlocked();
    this.#onOffDisk();
    this.#progress.notify();
  }

  #kickDisk(): void {
    if (this.#diskRun) return;
    this.#diskRun = this.#appendLoop().finally(() => {
      this.#diskRun = undefined;
      // An entry queued as the loop was ending.
      if (this.#diskQueue.length > 0) this.#kickDisk();
    });
  }

  /**
   * Appends the queue's batches to the spool one at a time, in order. A
   * failed append is retried with backoff, the batches behind it waiting;
   * meanwhile the writer may insert the head straight into the database
   * (see {@link replayHead}). At close, each gets one last chance.
   */
  async #appendLoop(): Promise<void> {
    const backoff = new Backoff(this.#retry);
    for (;;) {
      const entry = this.#diskQueue[0];
      if (!entry) return;
      if (entry.copyOf?.stored) {
        this.#offDisk(entry);
        continue;
      }
      if (this.#diskHeadBusy) {
        // The writer is inserting it.
        await this.#progress.next();
        continue;
      }
      this.#diskHeadBusy = true;
      let failure: { error: unknown } | undefined;
      try {
        await this.#spool.append(entry.ticks);
      } catch (error) {
        failure = { error };
      } finally {
        this.#diskHeadBusy = false;
      }
      if (!failure) {
        backoff.reset();
        this.#spooled += entry.ticks.length;
        this.#spoolRecovered();
        this.updateSpoolGauge();
        this.#offDisk(entry);
        continue;
      }
      this.#spoolFailed(failure.error);
      if (this.#isStopping()) {
        if (!(await this.#insertAtStop(entry))) this.#givenUp.push(entry);
        this.#offDisk(entry);
        continue;
      }
      this.#progress.notify();
      const wake = new AbortController();
      this.#wakeAppend = () => wake.abort();
      await sleep(backoff.next(), AbortSignal.any([this.#signal, wake.signal]));
      this.#wakeAppend = undefined;
    }
  }

  /**
   * The spool gave room back (a replayed batch was acknowledged): a failed
   * append is retried now, not after its backoff, so that ingest does not
   * stay blocked behind a disk that has room again.
   */
  retryAppendNow(): void {
    const wake = this.#wakeAppend;
    this.#wakeAppend = undefined;
    wake?.();
  }

  /** Closing, the disk refused `entry`: one insert, unless one failed already during close. */
  async #insertAtStop(entry: DiskEntry): Promise<boolean> {
    if (this.#databaseFailedAtStop) return false;
    if (await this.#writer.insert(entry.ticks)) return true;
    this.#databaseFailedAtStop = true;
    return false;
  }

  #spoolFailed(error: unknown): void {
    this.#spoolAppendFailures += 1;
    this.#metrics?.spoolAppendFailures.inc();
    this.#metrics?.errors.inc({ component: 'market-data' });
    const report = this.#spoolOutage.fail(error);
    if (report) {
      this.#logger.error(
        {
          err: error,
          failedAppends: report.failures,
          waitingForDisk: this.#diskQueuedTicks,
          ...(report.first ? {} : { sinceMs: report.sinceMs }),
        },
        report.first
          ? 'market-data: the spool cannot be written; batches wait in memory, in order, and the append is retried'
          : 'market-data: the spool still cannot be written',
      );
    }
    this.updateBlocked();
  }

  #spoolRecovered(): void {
    const ended = this.#spoolOutage.recover();
    if (ended) {
      this.#logger.info(
        { failedAppends: ended.failures, outageMs: ended.sinceMs },
        'market-data: the spool takes appends again',
      );
    }
    this.updateBlocked();
  }

  /** A whole bound's worth of ticks waits for the disk: the channel has stopped draining. */
  get #diskBehind(): boolean {
    return this.#diskQueuedTicks >= this.#maxBufferedTicks;
  }
}
