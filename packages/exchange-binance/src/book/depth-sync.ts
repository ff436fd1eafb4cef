import {
  Backoff,
  InvalidInputError,
  normalizeSymbol,
  silentLogger,
  type BackoffOptions,
  type BookLevel,
  type BookTop,
  type Logger,
} from '@trade/core';
import { OrderBook } from './order-book.js';
import {
  MAX_DEPTH_LIMIT,
  parseDepthSnapshot,
  type DepthDiff,
  type DepthSnapshot,
} from './parse-depth.js';
import type {
  BookLoss,
  DepthSyncEvent,
  DepthSyncStats,
  ResyncReason,
} from './depth-sync-events.js';
import { depthSnapshotWeight, type RestWeightLimiter } from './rest-weight-budget.js';

/**
 * Asks the exchange for a depth snapshot (`GET /api/v3/depth?symbol=&limit=`).
 * It may resolve to a {@link DepthSnapshot} or to the raw JSON answer:
 * either way {@link DepthSync} checks it with {@link parseDepthSnapshot}
 * before trusting it. Reject on failure; an error carrying a numeric
 * `retryAfterMs` (as `RestRequestError` does) holds the shared budget back that long.
 */
export type FetchDepthSnapshot = (
  symbol: string,
  limit: number,
  signal: AbortSignal,
) => Promise<unknown>;

/** Options of {@link DepthSync}. */
export interface DepthSyncOptions {
  /** e.g. `BNBUSDT` (upper-cased). */
  symbol: string;
  fetchSnapshot: FetchDepthSnapshot;
  /**
   * The REST weight budget every snapshot is paid from. Share one between
   * all symbols (and other REST users) so a resync storm stays within
   * Binance's 6000 per minute; see {@link RestWeightBudget}.
   */
  budget: RestWeightLimiter;
  /** Levels per side asked of a snapshot, 1 to 5000 (weight 5/25/50/250). Default 1000. */
  limit?: number;
  onEvent?: (event: DepthSyncEvent) => void;
  /** After a failed snapshot. Default 1 s doubling to 30 s, half jittered. */
  retry?: BackoffOptions;
  /** Before retaking a snapshot older than the stream. Default 250 ms doubling to 5 s. */
  staleRetry?: BackoffOptions;
  /** Diffs buffered while a snapshot is awaited; the oldest go first. Default 1000. */
  maxBufferedDiffs?: number;
  /** Logs an `onEvent` handler that threw. */
  logger?: Logger;
  random?: () => number;
  now?: () => number;
}

type CounterName = Exclude<keyof DepthSyncStats, 'inSync' | 'updateId' | 'buffered'>;

const DEFAULT_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };
const DEFAULT_STALE_RETRY: BackoffOptions = { initialMs: 250, maxMs: 5_000 };

/**
 * Keeps the order book of one symbol in sync with a `<sym>@depth` stream,
 * by Binance's documented procedure: buffer diffs, noting the first `U`;
 * take a snapshot, and another while its `lastUpdateId` < that `U`; drop
 * buffered diffs with `u <= lastUpdateId`; then for each diff: ignore it
 * if `u` < the book's update id, start over if `U` > the book's update
 * id + 1 (a gap), else apply it and set the book's id to `u`.
 *
 * The book is only shown ({@link top}, {@link bestBid}) while in sync;
 * nothing is applied to a book it is not sure of. Snapshots are paid from
 * the shared {@link RestWeightLimiter}, failures retried with backoff.
 * {@link handleDiff} never throws.
 *
 * @example
 * ```ts
 * const budget = new RestWeightBudget();
 * const sync = new DepthSync({
 *   symbol: 'BNBUSDT',
 *   budget,
 *   fetchSnapshot: async (symbol, limit, signal) =>
 *     (await fetch(`${rest}/api/v3/depth?symbol=${symbol}&limit=${limit}`, { signal })).json(),
 *   onEvent: (e) => { if (e.kind === 'resynced') resyncs.inc({ symbol: e.symbol }); },
 * });
 * // for each depth frame:
 * const r = parseDepthDiff(payload);
 * if (r.kind === 'diff') sync.handleDiff(r.diff);
 * sync.top(20); // undefined until in sync
 * ```
 */
export class DepthSync {
  readonly symbol: string;
  readonly limit: number;
  private readonly book: OrderBook;
  private readonly weight: number;
  private readonly maxBuffered: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private buffer: DepthDiff[] = [];
  /** Applying diffs to the book (in sync, or replaying onto a snapshot). */
  private applying = false;
  /** In sync and announced: the book may be shown. */
  private shown = false;
  private everSynced = false;
  private lost: BookLoss | undefined;
  private running = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly wakers = new Set<() => void>();
  private readonly counters: Record<CounterName, number> = {
    syncs: 0,
    resyncs: 0,
    diffsApplied: 0,
    levelChanges: 0,
    diffsIgnored: 0,
    diffsRejected: 0,
    diffsDropped: 0,
    bufferOverflows: 0,
    snapshotRequests: 0,
    snapshotFailures: 0,
    staleSnapshots: 0,
  };

  /** Throws {@link InvalidInputError} on a bad symbol, `limit` or `maxBufferedDiffs`. */
  constructor(private readonly options: DepthSyncOptions) {
    this.symbol = normalizeSymbol(options.symbol);
    this.limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(this.limit) || this.limit < 1 || this.limit > MAX_DEPTH_LIMIT) {
      throw new InvalidInputError(
        'limit',
        options.limit,
        `an integer from 1 to ${MAX_DEPTH_LIMIT}`,
      );
    }
    this.maxBuffered = options.maxBufferedDiffs ?? 1000;
    if (!Number.isSafeInteger(this.maxBuffered) || this.maxBuffered < 1) {
      throw new InvalidInputError('maxBufferedDiffs', options.maxBufferedDiffs, 'an integer >= 1');
    }
    this.weight = depthSnapshotWeight(this.limit);
    this.book = new OrderBook(this.symbol);
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  /** True while the book is known to match the exchange's at {@link updateId}. */
  get inSync(): boolean {
    return this.shown;
  }

  /** The book's update id while in sync. */
  get updateId(): number | undefined {
    return this.shown ? this.book.updateId : undefined;
  }

  /** The best `n` levels per side (default 20), best first, exact strings; `undefined` while not in sync. */
  top(n = 20): BookTop | undefined {
    return this.shown ? this.book.top(n) : undefined;
  }

  /** The highest bid while in sync. */
  bestBid(): BookLevel | undefined {
    return this.shown ? this.book.bestBid() : undefined;
  }

  /** The lowest ask while in sync. */
  bestAsk(): BookLevel | undefined {
    return this.shown ? this.book.bestAsk() : undefined;
  }

  get stats(): DepthSyncStats {
    return {
      ...this.counters,
      inSync: this.shown,
      updateId: this.updateId,
      buffered: this.buffer.length,
    };
  }

  /**
   * Takes one diff of the stream, in the order received. Never throws: a
   * diff that is not one is reported (`diff_rejected`) and, while in sync,
   * costs the book (its changes are unknown).
   */
  handleDiff(diff: DepthDiff): void {
    if (this.closed) return;
    try {
      const problem = this.check(diff);
      if (problem !== undefined) {
        this.counters.diffsRejected++;
        this.emit({ kind: 'diff_rejected', symbol: this.symbol, detail: problem.detail });
        if (problem.costsTheBook && this.applying) {
          this.desync(this.loss('invalid_diff', diff, problem.detail), []);
        }
        return;
      }
      if (this.applying) this.applyLive(diff);
      else this.bufferDiff(diff);
    } catch (error) {
      // Nothing above should throw; if it did, the book is not to be trusted.
      this.logger.error({ symbol: this.symbol, error: String(error) }, 'depth sync: unexpected');
      if (this.applying) this.desync(this.loss('invalid_diff', diff, String(error)), []);
    }
  }

  /** Stops: a snapshot in flight is aborted and its answer not used; later diffs are ignored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.applying = false;
    this.shown = false;
    this.buffer = [];
    this.book.clear();
    this.abort.abort();
    for (const wake of [...this.wakers]) wake();
  }

  /** Why `diff` cannot be taken at all, or `undefined`. Its levels are checked as they are applied. */
  private check(diff: unknown): { detail: string; costsTheBook: boolean } | undefined {
    if (typeof diff !== 'object' || diff === null) {
      return { detail: 'not a diff object', costsTheBook: true };
    }
    const d = diff as Partial<Record<keyof DepthDiff, unknown>>;
    if (d.symbol !== this.symbol) {
      // Misrouted: not this book's news, so it costs this book nothing.
      return { detail: `diff of ${String(d.symbol)}, not ${this.symbol}`, costsTheBook: false };
    }
    const { firstUpdateId: U, finalUpdateId: u } = d;
    if (!isId(U) || !isId(u) || U > u) {
      return { detail: `update ids U=${String(U)} u=${String(u)}`, costsTheBook: true };
    }
    if (!Array.isArray(d.bids) || !Array.isArray(d.asks)) {
      return { detail: 'bids or asks not an array', costsTheBook: true };
    }
    return undefined;
  }

  /** A diff while the book is being kept: the procedure's per-diff rule. */
  private applyLive(diff: DepthDiff): void {
    const id = this.book.updateId;
    if (diff.finalUpdateId < id) {
      this.counters.diffsIgnored++;
      this.emit({
        kind: 'diff_ignored',
        symbol: this.symbol,
        finalUpdateId: diff.finalUpdateId,
        bookUpdateId: id,
      });
      return;
    }
    if (diff.firstUpdateId > id + 1) {
      const detail = `U=${diff.firstUpdateId} > ${id} + 1: ${diff.firstUpdateId - id - 1} updates missed`;
      this.desync(this.loss('gap', diff, detail), [diff]);
      return;
    }
    let levelChanges: number;
    try {
      levelChanges = this.book.applyDiff(diff);
    } catch (error) {
      this.desync(this.loss('invalid_diff', diff, String(error)), []);
      return;
    }
    if (this.book.isCrossed()) {
      const detail = `bid ${this.book.bestBid()?.[0]} >= ask ${this.book.bestAsk()?.[0]}`;
      this.desync(this.loss('crossed_book', diff, detail), []);
      return;
    }
    this.counters.diffsApplied++;
    this.counters.levelChanges += levelChanges;
    this.emit({
      kind: 'diff_applied',
      symbol: this.symbol,
      updateId: diff.finalUpdateId,
      levelChanges,
    });
  }

  private loss(reason: ResyncReason, diff: unknown, detail: string): BookLoss {
    const d = (typeof diff === 'object' && diff !== null ? diff : {}) as Partial<DepthDiff>;
    return {
      reason,
      bookUpdateId: this.book.updateId,
      firstUpdateId: isId(d.firstUpdateId) ? d.firstUpdateId : undefined,
      finalUpdateId: isId(d.finalUpdateId) ? d.finalUpdateId : undefined,
      detail,
    };
  }

  /**
   * The book is no longer trusted: it is emptied, and the procedure starts
   * over from `keep` (the diff that showed a gap is still the stream's next news).
   */
  private desync(lost: BookLoss, keep: DepthDiff[]): void {
    this.applying = false;
    this.book.clear();
    this.buffer = keep;
    if (this.shown) {
      this.shown = false;
      this.lost = lost;
      this.emit({ kind: 'desynced', symbol: this.symbol, lost });
    }
    this.startSync();
  }

  private bufferDiff(diff: DepthDiff): void {
    this.buffer.push(diff);
    if (this.buffer.length > this.maxBuffered) {
      // The oldest would be dropped by any snapshot new enough anyway.
      this.buffer.shift();
      this.counters.bufferOverflows++;
    }
    this.startSync();
  }

  private startSync(): void {
    if (this.running || this.closed || this.buffer.length === 0) return;
    this.running = true;
    void this.syncLoop();
  }

  /** Snapshots until the book is in sync, as long as there is a diff to sync from. */
  private async syncLoop(): Promise<void> {
    const failures = new Backoff(this.options.retry ?? DEFAULT_RETRY, this.options.random);
    const stale = new Backoff(this.options.staleRetry ?? DEFAULT_STALE_RETRY, this.options.random);
    try {
      while (!this.closed && !this.applying && this.buffer.length > 0) {
        if (!(await this.payForSnapshot())) return;
        this.counters.snapshotRequests++;
        let answer: unknown;
        try {
          answer = await this.options.fetchSnapshot(this.symbol, this.limit, this.abort.signal);
        } catch (error) {
          if (this.closed) return;
          await this.snapshotFailed(failures, describeError(error), retryAfterOf(error));
          continue;
        }
        if (this.closed) return;
        const checked = this.checkSnapshot(answer);
        if (typeof checked === 'string') {
          await this.snapshotFailed(failures, checked);
          continue;
        }
        failures.reset();
        const firstU = this.buffer[0]?.firstUpdateId;
        if (firstU === undefined) return; // nothing to sync from (cannot happen: kept while running)
        if (checked.lastUpdateId < firstU) {
          const retryInMs = stale.next();
          this.counters.staleSnapshots++;
          this.emit({
            kind: 'snapshot_stale',
            symbol: this.symbol,
            lastUpdateId: checked.lastUpdateId,
            firstUpdateId: firstU,
            retryInMs,
          });
          await this.sleep(retryInMs);
          continue;
        }
        stale.reset();
        this.applySnapshot(checked);
      }
    } catch (error) {
      this.logger.error({ symbol: this.symbol, error: String(error) }, 'depth sync: unexpected');
    } finally {
      // Cleared here, not in a later callback: a diff arriving next must be able to start a loop.
      this.running = false;
    }
    // Left with diffs and no book (an unexpected error above): go again, after a pause.
    if (!this.closed && !this.applying && this.buffer.length > 0) {
      await this.sleep(1_000);
      this.startSync();
    }
  }

  private checkSnapshot(answer: unknown): DepthSnapshot | string {
    const symbol =
      typeof answer === 'object' && answer !== null && 'symbol' in answer
        ? answer.symbol
        : undefined;
    if (symbol !== undefined && symbol !== this.symbol) {
      const named = typeof symbol === 'string' ? symbol : JSON.stringify(symbol);
      return `snapshot of ${named}, asked for ${this.symbol}`;
    }
    const parsed = parseDepthSnapshot(answer, { symbol: this.symbol, limit: this.limit });
    return parsed.kind === 'snapshot' ? parsed.snapshot : parsed.detail;
  }

  /** The snapshot becomes the book; buffered diffs after it are replayed; in sync unless that found a gap. */
  private applySnapshot(snapshot: DepthSnapshot): void {
    const pending = this.buffer;
    this.buffer = [];
    this.book.applySnapshot(snapshot);
    this.applying = true;
    let replayed = 0;
    for (let i = 0; i < pending.length; i++) {
      const diff = pending[i]!;
      if (diff.finalUpdateId <= snapshot.lastUpdateId) {
        this.counters.diffsDropped++;
        continue;
      }
      this.applyLive(diff);
      if (!this.applying) {
        // Lost again before being shown: start over from the diffs not yet looked at.
        this.buffer.push(...pending.slice(i + 1));
        return;
      }
      replayed++;
    }
    this.shown = true;
    const updateId = this.book.updateId;
    const base = {
      symbol: this.symbol,
      updateId,
      snapshotUpdateId: snapshot.lastUpdateId,
      replayed,
    };
    const lost = this.lost;
    this.lost = undefined;
    if (!this.everSynced) {
      this.everSynced = true;
      this.counters.syncs++;
      this.emit({ kind: 'synced', ...base });
    } else if (lost !== undefined) {
      this.counters.resyncs++;
      this.emit({ kind: 'resynced', ...base, lost });
    }
  }

  private async snapshotFailed(
    failures: Backoff,
    error: string,
    retryAfterMs?: number,
  ): Promise<void> {
    this.counters.snapshotFailures++;
    let retryInMs = failures.next();
    if (retryAfterMs !== undefined) {
      // The exchange said when: every symbol sharing the budget waits too.
      this.options.budget.holdUntil?.(this.now() + retryAfterMs);
      retryInMs = Math.max(retryInMs, retryAfterMs);
    }
    this.emit({
      kind: 'snapshot_failed',
      symbol: this.symbol,
      error,
      failures: failures.attempt,
      retryInMs,
    });
    await this.sleep(retryInMs);
  }

  /**
   * Waits until the budget has room for a snapshot and spends it; false
   * when closed meanwhile. Asking and spending happen in one synchronous
   * step, so no other symbol can take the room in between.
   */
  private async payForSnapshot(): Promise<boolean> {
    const budget = this.options.budget;
    for (;;) {
      if (this.closed) return false;
      const wait = budget.waitMs(this.weight);
      if (wait <= 0) {
        budget.spend(this.weight);
        return true;
      }
      await this.sleep(wait);
    }
  }

  /** Resolves after `ms`, or at once on {@link close}. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private emit(event: DepthSyncEvent): void {
    const onEvent = this.options.onEvent;
    if (onEvent === undefined) return;
    try {
      onEvent(event);
    } catch (error) {
      this.logger.error(
        { symbol: this.symbol, event: event.kind, error: String(error) },
        'depth sync: onEvent handler threw',
      );
    }
  }
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('retryAfterMs' in error)) return undefined;
  const ms = error.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
