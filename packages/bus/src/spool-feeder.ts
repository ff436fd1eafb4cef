import { Backoff, type BackoffOptions, type Tick } from '@trade/core';
import { Progress } from './progress.js';
import { RecordQueue } from './record-queue.js';

/**
 * The durable spool a publisher keeps ticks in while JetStream does not
 * take them: `TickSpool` of `@trade/market-data` has this shape. Batches
 * come back from {@link next} in the order they were appended, across
 * restarts; the same batch comes back until {@link ack}.
 */
export interface BusSpool {
  /** Appends one batch durably; rejects when nothing of it was kept. */
  append(ticks: readonly Tick[]): Promise<void>;
  /** The oldest batch not yet acknowledged, or `undefined` when there is none. */
  next(): Promise<Tick[] | undefined>;
  /** Marks the batch last returned by {@link next} as published. */
  ack(): Promise<void>;
  /** True when no batch waits and no append is under way. */
  readonly isEmpty: boolean;
  /** Ticks in the spool not yet acknowledged. */
  readonly tickCount: number;
}

/**
 * The durable spool a publisher of quotes or book snapshots keeps its
 * records in while JetStream does not take them: `RecordSpool<T>` of
 * `@trade/market-data` has this shape as it is. Batches come back from
 * {@link next} in the order they were appended, across restarts; the same
 * batch comes back until {@link ack}.
 *
 * @example
 * ```ts
 * import { RecordSpool, quoteCodec } from '@trade/market-data';
 * const spool: BusRecordSpool<Quote> = await RecordSpool.open('./data/bus-spool/quotes', { codec: quoteCodec, name: 'quotes' });
 * ```
 */
export interface BusRecordSpool<T> {
  /** Appends one batch durably; rejects when nothing of it was kept. */
  append(records: readonly T[]): Promise<void>;
  /** The oldest batch not yet acknowledged, or `undefined` when there is none. */
  next(): Promise<T[] | undefined>;
  /** Marks the batch last returned by {@link next} as published. */
  ack(): Promise<void>;
  /** True when no batch waits and no append is under way. */
  readonly isEmpty: boolean;
  /** Records in the spool not yet acknowledged. */
  readonly rowCount: number;
}

/** Options of {@link SpoolFeeder}. */
export interface SpoolFeederOptions<T> {
  spool: Pick<BusRecordSpool<T>, 'append'>;
  /** Records per append at most. */
  batchTicks: number;
  /** Delays between attempts of an append the spool refused. */
  retry: BackoffOptions;
  /** Told after each append that went through. */
  onAppended: (count: number) => void;
  /** Told after each append the spool refused (it is tried again). */
  onAppendFailed: (error: unknown, count: number) => void;
}

/**
 * Hands records (ticks, quotes, snapshots) to the spool in order, one append at a time, in batches of
 * what piled up meanwhile. An append the spool refuses (a full disk) goes
 * back to the head and is tried again after a delay; the ticks stay in
 * memory until then, so the caller bounds them by {@link length}.
 *
 * @example
 * ```ts
 * const feeder = new SpoolFeeder({ spool, batchTicks: 1000, retry: {}, onAppended, onAppendFailed });
 * feeder.push(ticks);
 * const lost = await feeder.finish(); // closing: one more attempt each
 * ```
 */
export class SpoolFeeder<T> {
  readonly #spool: Pick<BusRecordSpool<T>, 'append'>;
  readonly #batchTicks: number;
  readonly #retry: BackoffOptions;
  readonly #onAppended: SpoolFeederOptions<T>['onAppended'];
  readonly #onAppendFailed: SpoolFeederOptions<T>['onAppendFailed'];
  readonly #waiting = new RecordQueue<T>();
  readonly #progress = new Progress();
  readonly #alarm = new Progress();
  #appending: T[] | undefined;
  #running = false;
  #failing = false;
  #final = false;
  #lost: T[] = [];

  constructor(options: SpoolFeederOptions<T>) {
    this.#spool = options.spool;
    this.#batchTicks = options.batchTicks;
    this.#retry = options.retry;
    this.#onAppended = options.onAppended;
    this.#onAppendFailed = options.onAppendFailed;
  }

  /** Ticks not yet in the spool, the batch being appended included. */
  get length(): number {
    return this.#waiting.length + (this.#appending?.length ?? 0);
  }

  /** An append is under way. */
  get busy(): boolean {
    return this.#appending !== undefined;
  }

  /** The last append was refused. */
  get failing(): boolean {
    return this.#failing;
  }

  push(ticks: readonly T[]): void {
    if (ticks.length === 0) return;
    this.#waiting.pushAll(ticks);
    this.#run();
  }

  pushOne(tick: T): void {
    this.#waiting.push(tick);
    this.#run();
  }

  /** Takes back the ticks no append has started on yet, oldest first. */
  takeAll(): T[] {
    const ticks = this.#waiting.takeAll();
    this.#alarm.notify();
    return ticks;
  }

  /** Resolves once no append is under way. */
  async settled(): Promise<void> {
    while (this.#appending !== undefined) await this.#progress.next();
  }

  /**
   * Closing: appends what waits, each batch tried once more, and resolves
   * with the ticks the spool did not take.
   */
  async finish(): Promise<T[]> {
    this.#final = true;
    this.#alarm.notify();
    this.#run();
    while (this.#running) await this.#progress.next();
    return this.#lost.splice(0);
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    const backoff = new Backoff(this.#retry);
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.take(this.#batchTicks);
        this.#appending = batch;
        try {
          await this.#spool.append(batch);
          this.#appending = undefined;
          this.#failing = false;
          backoff.reset();
          this.#onAppended(batch.length);
        } catch (error) {
          this.#appending = undefined;
          this.#failing = true;
          this.#onAppendFailed(error, batch.length);
          if (this.#final) {
            this.#lost.push(...batch);
            continue;
          }
          this.#waiting.unshiftAll(batch);
          this.#progress.notify();
          await this.#alarm.next(backoff.next());
        }
        this.#progress.notify();
      }
    } finally {
      // Here, not in a callback: a push() right after the loop ends starts a new one.
      this.#running = false;
      this.#progress.notify();
    }
  }
}
