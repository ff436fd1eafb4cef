import { Backoff, silentLogger, type BackoffOptions, type Logger } from '@trade/core';
import { Outage } from './outage.js';
import { RecordBatches } from './record-batches.js';
import { validateRecorderOptions } from './record-recorder-options.js';
import type {
  RecordInsertResult,
  RecordRecorderCloseResult,
  RecordRecorderHealth,
  RecordRecorderOptions,
  RecordRecorderStats,
  RejectedRecord,
} from './record-recorder-types.js';
import { RecordSpool, type RecordCodec } from './record-spool.js';
import { RejectedLog } from './rejected-log.js';
import { sleep } from './sleep.js';
import { Wake } from './wake.js';

/** The batch the writer is inserting, and whether the spool holds a copy of it. */
interface InFlight<T> {
  readonly rows: T[];
  copied: boolean;
  /** Settles once a copy under way is appended or has failed. */
  copying: Promise<void> | undefined;
}

/**
 * Records rows of one kind (quotes, book snapshots...) into the database in
 * batches, without losing any while the database is down: a batch the
 * database does not take after its retries goes to a durable spool on
 * disk, replayed in order as soon as the database answers, also after a
 * restart. While the spool holds anything, new batches go behind it, so
 * batches reach the database in the order they were offered; so do they
 * once more than `maxBuffered` rows wait in memory. Rows the database
 * refuses go to `rejected.jsonl` in the spool directory.
 *
 * One writer inserts one batch at a time. The repository stores each key
 * once, so a batch written twice (a crash between insert and spool
 * acknowledgement) is harmless.
 *
 * @example
 * ```ts
 * const recorder = await RecordRecorder.start<Quote>({
 *   insert: async (rows) => toRecordResult(await quotes.insert(rows)),
 *   codec: quoteCodec,
 *   spoolDir: './data/spool/quotes',
 * });
 * recorder.offer(quote); // never blocks, never throws
 * const { lost } = await recorder.close();
 * ```
 */
export class RecordRecorder<T> {
  readonly #insert: (rows: readonly T[]) => Promise<RecordInsertResult<T>>;
  readonly #codec: RecordCodec<T>;
  readonly #spool: RecordSpool<T>;
  readonly #rejectedLog: RejectedLog;
  readonly #batches: RecordBatches<T>;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #rejectedField: string;
  readonly #maxRetries: number;
  readonly #retry: BackoffOptions;
  readonly #maxBuffered: number;
  readonly #abort = new AbortController();
  readonly #writerWake = new Wake();
  readonly #databaseOutage = new Outage();
  readonly #diskOutage = new Outage();
  readonly #dropping = new Outage();
  readonly #writerRun: Promise<void>;
  #spillRun: Promise<void> | undefined;
  /** The spiller is appending the oldest sealed batch: the writer leaves it alone. */
  #spillingHead = false;
  #inFlight: InFlight<T> | undefined;
  /** A batch stored after its copy reached the spool: that copy, the spool's oldest record, is skipped. */
  #storedCopy: T[] | undefined;
  /** A batch failed after its retries; cleared by the next stored one. */
  #databaseFailing = false;
  #closing = false;
  #closed: Promise<RecordRecorderCloseResult> | undefined;
  #accepted = 0;
  #stored = 0;
  #duplicates = 0;
  #rejected = 0;
  #spooled = 0;
  #replayed = 0;
  #corrupt = 0;
  #lost = 0;

  private constructor(spool: RecordSpool<T>, options: RecordRecorderOptions<T>) {
    this.#insert = options.insert;
    this.#codec = options.codec;
    this.#spool = spool;
    this.#logger = options.logger ?? silentLogger;
    this.#name = options.name ?? 'records';
    this.#rejectedField = options.rejectedField ?? 'row';
    this.#maxRetries = options.maxRetries ?? 3;
    this.#retry = options.retry ?? { initialMs: 100, maxMs: 5_000 };
    this.#maxBuffered = options.maxBuffered ?? 100_000;
    this.#rejectedLog = new RejectedLog(
      options.spoolDir,
      options.rejectedFileBytes ?? 16 * 1024 * 1024,
      options.rejectedFilesKept ?? 3,
      this.#logger,
    );
    this.#batches = new RecordBatches(
      options.batchSize ?? 5_000,
      options.flushIntervalMs ?? 250,
      () => {
        this.#writerWake.wake();
        this.#kickSpill();
      },
    );
    this.#writerRun = this.#writeLoop();
  }

  /**
   * Opens the spool in `options.spoolDir` and starts writing; batches left
   * in the spool by an earlier run are replayed first.
   */
  static async start<T>(options: RecordRecorderOptions<T>): Promise<RecordRecorder<T>> {
    validateRecorderOptions(options);
    const counter: { recorder?: RecordRecorder<T> } = {};
    const spool = await RecordSpool.open<T>(options.spoolDir, {
      codec: options.codec,
      name: options.name,
      segmentBytes: options.segmentBytes,
      logger: options.logger,
      onCorruptRecord: (record) => {
        if (counter.recorder) counter.recorder.#corrupt += 1;
        options.onCorruptRecord?.(record);
      },
    });
    if (spool.rowCount > 0) {
      options.logger?.info(
        { spoolRows: spool.rowCount, dir: options.spoolDir },
        `${options.name ?? 'records'}: replaying the spool left by an earlier run`,
      );
    }
    counter.recorder = new RecordRecorder(spool, options);
    return counter.recorder;
  }

  /**
   * Takes one row; never blocks or throws. False when it was not taken:
   * after `close()`, or while {@link health} says blocked (the row is then
   * counted in `lost`).
   */
  offer(row: T): boolean {
    if (this.#closing) return false;
    if (this.#isBlocked()) {
      this.#drop();
      return false;
    }
    if (this.#dropping.failing) this.#dropsEnded();
    this.#batches.add(row);
    this.#accepted += 1;
    return true;
  }

  /** Counters since start. */
  stats(): RecordRecorderStats {
    return {
      accepted: this.#accepted,
      stored: this.#stored,
      duplicates: this.#duplicates,
      rejected: this.#rejected,
      spooled: this.#spooled,
      replayed: this.#replayed,
      buffered: this.#buffered(),
      spoolRows: this.#spool.rowCount,
      corruptRecords: this.#corrupt,
      lost: this.#lost,
    };
  }

  /** Whether rows are taken, and the database's and the spool's last errors while they fail. */
  health(): RecordRecorderHealth {
    const databaseError = this.#databaseOutage.message;
    const spoolError = this.#diskOutage.message;
    const errors = {
      ...(databaseError === undefined ? {} : { databaseError }),
      ...(spoolError === undefined ? {} : { spoolError }),
    };
    if (!this.#isBlocked()) return { blocked: false, ...errors };
    return {
      blocked: true,
      reason: `the spool cannot be written (${spoolError ?? 'unknown error'}) and the database does not keep up (${databaseError ?? 'no failed insert, too slow'}); ${this.#buffered()} rows held in memory, new rows dropped`,
      ...errors,
    };
  }

  /**
   * Stops taking rows and puts every row held into the database or the
   * spool (the spool is then replayed by the next start). Resolves with
   * the rows neither took, over the recorder's life. Idempotent.
   */
  close(): Promise<RecordRecorderCloseResult> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<RecordRecorderCloseResult> {
    this.#closing = true;
    this.#batches.seal();
    this.#abort.abort();
    this.#writerWake.wake();
    await this.#writerRun;
    while (this.#spillRun) await this.#spillRun;
    await this.#flushAtClose();
    await this.#spool.close().catch((error: unknown) => {
      this.#logger.error({ err: error }, `${this.#name}: cannot close the spool segment`);
    });
    const { lost } = this.stats();
    if (lost > 0) {
      this.#logger.error(
        {
          lost,
          databaseError: this.#databaseOutage.message,
          spoolError: this.#diskOutage.message,
        },
        `${this.#name}: rows neither stored nor spooled`,
      );
    }
    return { lost };
  }

  /** Each batch still held: into the database while it takes them and the spool is empty (order), else the spool, else one last insert. */
  async #flushAtClose(): Promise<void> {
    let databaseOk = this.#spool.isEmpty && !this.#databaseFailing;
    let diskOk = true;
    let databaseTriedLast = false;
    for (let rows = this.#batches.shift(); rows; rows = this.#batches.shift()) {
      if (databaseOk) {
        if (await this.#insertOnce(rows)) continue;
        databaseOk = false;
        databaseTriedLast = true;
      }
      if (diskOk) {
        if (await this.#append(rows)) continue;
        diskOk = false;
      }
      if (!databaseTriedLast) {
        if (await this.#insertOnce(rows)) continue;
        databaseTriedLast = true;
      }
      this.#lost += rows.length;
    }
  }

  /** The writer: replays the spool while it holds anything, else inserts the oldest batch in memory. */
  async #writeLoop(): Promise<void> {
    const replayBackoff = new Backoff(this.#retry);
    const failedBackoff = new Backoff(this.#retry);
    while (!this.#closing) {
      try {
        if (!this.#spool.isEmpty) {
          if (await this.#replayOne()) replayBackoff.reset();
          else await sleep(replayBackoff.next(), this.#abort.signal);
          continue;
        }
        const rows = this.#spillingHead ? undefined : this.#batches.shift();
        if (!rows) {
          await this.#writerWake.wait();
          continue;
        }
        if (await this.#writeBatch(rows)) failedBackoff.reset();
        else await sleep(failedBackoff.next(), this.#abort.signal);
      } catch (error) {
        // Reading the spool failed (a disk error): try again later.
        this.#logger.error({ err: error }, `${this.#name}: writer error; retrying`);
        await sleep(replayBackoff.next(), this.#abort.signal);
      }
    }
  }

  /**
   * Inserts a batch with retries. True when it is stored or its copy is in
   * the spool; otherwise it is the oldest in memory again, bound for the spool.
   */
  async #writeBatch(rows: T[]): Promise<boolean> {
    const inFlight: InFlight<T> = { rows, copied: false, copying: undefined };
    this.#inFlight = inFlight;
    let stored = false;
    try {
      const backoff = new Backoff(this.#retry);
      for (let attempt = 0; ; attempt++) {
        stored = await this.#insertOnce(rows);
        if (stored || inFlight.copied || this.#closing || attempt >= this.#maxRetries) break;
        await sleep(backoff.next(), this.#abort.signal);
      }
    } finally {
      this.#inFlight = undefined;
    }
    await inFlight.copying;
    if (stored) {
      this.#databaseFailing = false;
      if (inFlight.copied) this.#storedCopy = rows;
      return true;
    }
    if (inFlight.copied) return true;
    this.#batches.unshift(rows);
    this.#databaseFailing = true;
    this.#kickSpill();
    return false;
  }

  /** Inserts the spool's oldest batch, once; false when the database did not take it. */
  async #replayOne(): Promise<boolean> {
    const rows = await this.#spool.next();
    if (!rows) {
      // Only appends under way: the spiller wakes the writer when they end.
      await this.#writerWake.wait();
      return true;
    }
    const copy = this.#storedCopy;
    this.#storedCopy = undefined;
    if (copy && this.#sameRows(rows, copy)) {
      await this.#spool.ack();
      return true;
    }
    if (!(await this.#insertOnce(rows))) {
      this.#storedCopy = copy;
      return false;
    }
    this.#databaseFailing = false;
    await this.#spool.ack();
    this.#replayed += rows.length;
    if (this.#spool.isEmpty) {
      this.#logger.info({ replayed: this.#replayed }, `${this.#name}: spool replayed`);
    }
    return true;
  }

  /** One insert; true when the database answered (refused rows are kept in `rejected.jsonl`). */
  async #insertOnce(rows: readonly T[]): Promise<boolean> {
    let result: RecordInsertResult<T>;
    try {
      result = await this.#insert(rows);
    } catch (error) {
      this.#databaseFailed(error, rows.length);
      return false;
    }
    const ended = this.#databaseOutage.recover();
    if (ended) {
      this.#logger.info(
        { failedInserts: ended.failures, outageMs: ended.sinceMs },
        `${this.#name}: the database takes batches again`,
      );
    }
    this.#stored += result.inserted;
    this.#duplicates += result.duplicates;
    if (result.rejected.length > 0) await this.#keepRejected(result.rejected);
    return true;
  }

  async #keepRejected(rejected: readonly RejectedRecord<T>[]): Promise<void> {
    this.#rejected += rejected.length;
    this.#logger.warn(
      { count: rejected.length, first: rejected[0]?.reason },
      `${this.#name}: rows refused by the database; kept in rejected.jsonl`,
    );
    try {
      await this.#rejectedLog.appendEntries(
        rejected.map(({ row, reason }) => ({ reason, [this.#rejectedField]: row })),
      );
    } catch (error) {
      this.#logger.error(
        { err: error, rejected },
        `${this.#name}: cannot write rejected.jsonl; the refused rows are in this entry`,
      );
    }
  }

  #shouldSpill(): boolean {
    if (this.#closing) return false;
    const inFlight = this.#inFlight;
    const waiting = this.#batches.length > 0 || (inFlight !== undefined && !inFlight.copied);
    return (
      waiting &&
      (!this.#spool.isEmpty || this.#databaseFailing || this.#buffered() >= this.#maxBuffered)
    );
  }

  #kickSpill(): void {
    if (this.#spillRun || !this.#shouldSpill()) return;
    this.#spillRun = this.#spillLoop().finally(() => {
      this.#spillRun = undefined;
      this.#kickSpill();
    });
  }

  /**
   * Moves batches to the spool, oldest first: a copy of the batch being
   * inserted (older than those waiting), then the sealed ones. A failed
   * append is retried with backoff, the batches staying in memory.
   */
  async #spillLoop(): Promise<void> {
    const backoff = new Backoff(this.#retry);
    while (this.#shouldSpill()) {
      const inFlight = this.#inFlight?.copied === false ? this.#inFlight : undefined;
      const rows = inFlight?.rows ?? this.#batches.peek();
      if (!rows) return;
      let appended: boolean;
      if (inFlight) {
        const copy = this.#append(rows);
        inFlight.copying = copy.then((ok) => void (inFlight.copied = ok));
        appended = await copy;
      } else {
        this.#spillingHead = true;
        appended = await this.#append(rows);
        if (appended) this.#batches.shift();
        this.#spillingHead = false;
      }
      this.#writerWake.wake();
      if (appended) backoff.reset();
      else await sleep(backoff.next(), this.#abort.signal);
    }
  }

  /** Appends a batch to the spool; false when the disk did not take it. */
  async #append(rows: readonly T[]): Promise<boolean> {
    try {
      await this.#spool.append(rows);
    } catch (error) {
      this.#diskFailed(error, rows.length);
      return false;
    }
    this.#spooled += rows.length;
    const ended = this.#diskOutage.recover();
    if (ended) {
      this.#logger.info(
        { failedAppends: ended.failures, outageMs: ended.sinceMs },
        `${this.#name}: the spool takes appends again`,
      );
    }
    return true;
  }

  #buffered(): number {
    const inFlight = this.#inFlight;
    return this.#batches.rows + (inFlight && !inFlight.copied ? inFlight.rows.length : 0);
  }

  #isBlocked(): boolean {
    return this.#diskOutage.failing && this.#buffered() >= this.#maxBuffered;
  }

  #sameRows(a: readonly T[], b: readonly T[]): boolean {
    const encode = (rows: readonly T[]) => JSON.stringify(rows.map((r) => this.#codec.encode(r)));
    return a.length === b.length && encode(a) === encode(b);
  }

  #databaseFailed(error: unknown, rows: number): void {
    const report = this.#databaseOutage.fail(error);
    if (!report) return;
    this.#logger.warn(
      {
        err: error,
        rows,
        failedInserts: report.failures,
        ...(report.first ? {} : { sinceMs: report.sinceMs }),
      },
      report.first
        ? `${this.#name}: the database does not take batches; retrying, then spooling them`
        : `${this.#name}: the database still does not take batches`,
    );
  }

  #diskFailed(error: unknown, rows: number): void {
    const report = this.#diskOutage.fail(error);
    if (!report) return;
    this.#logger.error(
      {
        err: error,
        rows,
        failedAppends: report.failures,
        buffered: this.#buffered(),
        ...(report.first ? {} : { sinceMs: report.sinceMs }),
      },
      report.first
        ? `${this.#name}: the spool cannot be written; batches wait in memory and the append is retried`
        : `${this.#name}: the spool still cannot be written`,
    );
  }

  #drop(): void {
    this.#lost += 1;
    const report = this.#dropping.fail(new Error('blocked'));
    if (!report) return;
    this.#logger.error(
      { lost: this.#lost, ...this.health() },
      report.first
        ? `${this.#name}: neither the database nor the spool takes rows; new rows are dropped`
        : `${this.#name}: still dropping rows`,
    );
  }

  #dropsEnded(): void {
    const ended = this.#dropping.recover();
    if (ended) {
      this.#logger.info(
        { dropped: ended.failures, blockedMs: ended.sinceMs },
        `${this.#name}: rows are taken again`,
      );
    }
  }
}
