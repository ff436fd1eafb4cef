import { Backoff, type BackoffOptions, type Tick, type TickRejectReason } from '@trade/core';
import type { ResumeAheadOfExchange } from './client-events.js';
import type { ResolvedClientOptions } from './client-options.js';
import { RestRequestError, RestTrades } from './rest-trades.js';
import { Sleepers } from './sleepers.js';
import type { SymbolSequencer } from './symbol-sequencer.js';

/**
 * The stream may run a moment ahead of REST: a held tick is refused as
 * ahead of the exchange only if REST, asked at least this long after the
 * tick arrived, still does not know its id.
 */
const AHEAD_GRACE_MS = 1_000;

/** Failures (REST errors, or empty answers before a held tick) before a gap is given up. */
const MAX_FAILURES = 5;

/**
 * A REST request failed (error, timeout, refused answer): 1 s doubling to
 * 8 s before the gap is given up. No jitter: the weight budget already
 * spreads requests, and the gap's hold on the stream should end on time.
 */
const REST_RETRY: BackoffOptions = { initialMs: 1_000, factor: 2, maxMs: 10_000, jitter: 0 };

/** REST answered but has no trade up to a held tick yet (it lags the stream): 500 ms doubling. */
const HISTORY_LAG_RETRY: BackoffOptions = { initialMs: 500, factor: 2, maxMs: 5_000, jitter: 0 };

/** A symbol whose gaps the filler fills. */
export interface GapSymbol {
  readonly symbol: string;
  readonly sequencer: SymbolSequencer;
  /** While it overlaps (a rotation), gaps may be the overlap's: they are filled once it ends. */
  readonly shard: { readonly overlapping: boolean };
}

/** How a gap ended: `missed` ids given up, `recovered` filled over REST. */
export interface GapOutcome {
  readonly fromId: number;
  readonly toId: number;
  readonly recovered: number;
  readonly missed: number;
}

/** What a {@link GapFiller} tells the client it belongs to. */
export interface GapFillerHooks {
  reject(reason: TickRejectReason, detail: string): void;
  /** A gap ended; `bannedUntil` is set when it was given up for a REST ban (418). */
  reportGap(symbol: string, gap: GapOutcome, bannedUntil?: number): void;
  /** Open gaps may have changed (`trading_gaps_open`). */
  gapsChanged(): void;
}

interface Job {
  filling: boolean;
  /** Open-ended REST catch-up wanted: after a restart (`resume`, bounded by the newest id) or a reconnect. */
  catchUp: 'resume' | 'reconnect' | undefined;
}

/**
 * Fills trade-id gaps over REST, one job per symbol, within the REST weight
 * budget and any `Retry-After`; stops asking while the IP is banned (418).
 * It talks to each symbol's {@link SymbolSequencer} only through its
 * methods: offers REST ticks, asks it to give ids up, settles far ids.
 */
export class GapFiller {
  /** Counters for stats. */
  gapsDetected = 0;
  tradesBackfilled = 0;
  restRequests = 0;
  restErrors = 0;
  readonly resumeAheadOfExchange: ResumeAheadOfExchange[] = [];
  private readonly rest: RestTrades;
  private readonly jobs = new Map<GapSymbol, Job>();
  private readonly sleepers = new Sleepers();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly hooks: GapFillerHooks,
  ) {
    this.rest = new RestTrades({
      restUrl: options.restUrl,
      streamType: options.streamType,
      weightPerMinute: options.restWeightPerMinute,
      apiKey: options.apiKey,
      timeoutMs: options.restTimeoutMs,
      fetch: options.fetch,
      now: options.now,
      onReject: (reason, detail) => hooks.reject(reason, detail),
    });
  }

  /** End (epoch ms) of the latest REST ban; 0 when never banned. */
  get bannedUntil(): number {
    return this.rest.bannedUntil;
  }

  /** Another REST user of the IP (depth snapshots) was told it is banned until `epochMs`. */
  noteBan(epochMs: number): void {
    this.rest.noteBan(epochMs);
  }

  /**
   * Fills the gap of `target` over REST (or catches up, see {@link catchUp}),
   * after settling ids waiting for the exchange's word; one job per symbol.
   */
  fill(target: GapSymbol): void {
    const job = this.job(target);
    if (job.filling || this.closed) return;
    job.filling = true;
    this.hooks.gapsChanged();
    this.fillLoop(target, job)
      .catch((error: unknown) => {
        this.options.logger.error(
          { symbol: target.symbol, error: String(error) },
          'binance: backfill failed',
        );
      })
      .finally(() => {
        job.filling = false;
        this.hooks.gapsChanged();
        const seq = target.sequencer;
        // A gap may have opened while the job finished.
        if (!this.closed && (seq.hasGap || seq.hasUnconfirmed) && !target.shard.overlapping)
          this.fill(target);
      });
  }

  /**
   * Asks REST for everything after the symbol's position, without waiting
   * for a trade to reveal the gap: after a restart (`resume`, at most
   * `maxResumeTrades`) or a reconnect.
   */
  catchUp(target: GapSymbol, kind: 'resume' | 'reconnect'): void {
    this.job(target).catchUp = kind;
    this.fill(target);
  }

  /**
   * Trades made while a shard was down show up as a gap with the next
   * trade; a quiet symbol may not trade for a long time, so ask REST now
   * (for at most `maxReconnectCatchUpSymbols` symbols, to spare the weight budget).
   */
  catchUpAfterReconnect(targets: Iterable<GapSymbol>): void {
    let budget = this.options.maxReconnectCatchUpSymbols;
    for (const target of targets) {
      if (budget <= 0) return;
      if (target.sequencer.lastId === undefined || this.job(target).catchUp) continue;
      budget--;
      this.catchUp(target, 'reconnect');
    }
  }

  /** Stops: requests in flight are aborted, their answers not used, sleeping jobs end. */
  close(): void {
    this.closed = true;
    this.abort.abort();
    this.sleepers.close();
  }

  private job(target: GapSymbol): Job {
    let job = this.jobs.get(target);
    if (job === undefined) {
      job = { filling: false, catchUp: undefined };
      this.jobs.set(target, job);
    }
    return job;
  }

  private async fillLoop(target: GapSymbol, job: Job): Promise<void> {
    const seq = target.sequencer;
    const symbol = target.symbol;
    if (seq.hasUnconfirmed) await this.confirmFarIds(target);
    if (!seq.hasGap && !job.catchUp) return;
    const maxGap =
      job.catchUp === 'resume' ? this.options.maxResumeTrades : this.options.maxGapTrades;
    let recovered = 0;
    let missed = 0;
    let failures = 0;
    const restRetry = new Backoff(REST_RETRY, this.options.random);
    const historyLag = new Backoff(HISTORY_LAG_RETRY, this.options.random);
    let bannedUntil: number | undefined;
    this.gapsDetected++;

    let fromId = seq.nextId!;
    if (job.catchUp === 'resume') {
      // Bound the catch-up by the newest trade REST knows, and check the resume point against it.
      const newest = await this.exchangeNewest(symbol);
      if (newest !== undefined) {
        for (const tick of seq.settleUnconfirmed(newest)) this.rejectAhead(symbol, tick, newest);
        if (newest < seq.lastId! && this.resumeAhead(target, newest)) fromId = seq.nextId!;
        else if (newest - seq.lastId! > maxGap) missed += seq.skipTo(newest - maxGap + 1);
      }
    }
    let toId = fromId - 1;
    while (!this.closed) {
      if (seq.hasUnconfirmed) await this.confirmFarIds(target);
      this.hooks.gapsChanged();
      if (this.restBanned()) {
        // No request may go while the IP is banned: give the gap up now rather than hold the stream.
        bannedUntil = this.rest.bannedUntil;
        const given = seq.giveUpHeld();
        if (given) {
          missed += given.missed;
          toId = Math.max(toId, given.toId);
        }
        break;
      }
      const next = seq.nextId!;
      const heldMin = seq.heldMin;
      if (heldMin === undefined && !job.catchUp) break;
      const firstHeld = heldMin ?? Number.POSITIVE_INFINITY; // first id we already hold
      toId = Math.max(toId, Number.isFinite(firstHeld) ? firstHeld - 1 : next - 1);
      if (Number.isFinite(firstHeld) && firstHeld - next > maxGap) {
        // Giving ids up for a tick REST has never shown: first make sure the exchange has it.
        if (await this.dropAheadOfExchange(symbol, seq)) continue;
        missed += seq.skipTo(firstHeld - maxGap);
        continue;
      }
      const limit = Math.min(1000, Number.isFinite(firstHeld) ? firstHeld - next : 1000);
      const rows = await this.restCall(() =>
        this.rest.fetchFrom(symbol, next, limit, this.abort.signal),
      );
      if (rows === undefined) {
        if (this.closed || this.restBanned()) continue; // the loop's checks end it
        if (++failures >= MAX_FAILURES) {
          this.options.logger.error(
            { symbol, fromId: next },
            'binance: REST backfill keeps failing, giving up this gap',
          );
          // skipTo counts nothing already given up meanwhile (an overflow moved past it).
          if (Number.isFinite(firstHeld)) missed += seq.skipTo(firstHeld);
          break;
        }
        await this.sleepers.sleep(restRetry.next());
        continue;
      }
      if (rows.length === 0) {
        if (!Number.isFinite(firstHeld)) break; // caught up with the head
        // History ends before the held tick: is the tick newer than anything the exchange has?
        if (await this.dropAheadOfExchange(symbol, seq)) continue;
        // REST does not have them (yet): retry a few times, then give up.
        if (++failures >= MAX_FAILURES) {
          missed += seq.skipTo(firstHeld);
          break;
        }
        await this.sleepers.sleep(historyLag.next());
        continue;
      }
      failures = 0;
      restRetry.reset();
      historyLag.reset();
      if (rows[0]!.tradeId > seq.nextId!) {
        // History no longer holds these ids.
        missed += seq.skipTo(rows[0]!.tradeId);
      }
      for (const tick of rows) {
        if (seq.offer(tick) === 'delivered') {
          recovered++;
          this.tradesBackfilled++;
          this.options.metrics?.ticksBackfilled.inc();
        }
      }
      toId = Math.max(toId, rows[rows.length - 1]!.tradeId);
      if (!Number.isFinite(firstHeld) && rows.length < limit) break;
    }
    job.catchUp = undefined;
    this.hooks.reportGap(symbol, { fromId, toId, recovered, missed }, bannedUntil);
  }

  /** The exchange's newest trade id of `symbol` over REST (`trades?limit=1`), or `undefined` when REST did not say. */
  private async exchangeNewest(symbol: string): Promise<number | undefined> {
    const rows = await this.restCall(() => this.rest.latest(symbol, 1, this.abort.signal));
    return rows?.[0]?.tradeId;
  }

  /**
   * Far-ahead ids (`maxTradeIdJump`) wait for the exchange's newest trade
   * id: those beyond it are rejected, the others taken. Without an answer
   * (REST banned, or failing five times) they are trusted: a symbol that
   * really jumped must not stall while REST is away.
   */
  private async confirmFarIds(target: GapSymbol): Promise<void> {
    const seq = target.sequencer;
    const retry = new Backoff(REST_RETRY, this.options.random);
    for (let failures = 1; seq.hasUnconfirmed && !this.closed; failures++) {
      const newest = await this.exchangeNewest(target.symbol);
      if (this.closed) return;
      if (newest !== undefined) {
        for (const tick of seq.settleUnconfirmed(newest))
          this.rejectAhead(target.symbol, tick, newest);
        return;
      }
      if (this.restBanned() || failures >= MAX_FAILURES) {
        this.options.logger.error(
          { symbol: target.symbol, held: seq.held },
          'binance: cannot ask REST whether far-ahead trade ids exist: trusting them',
        );
        seq.trustUnconfirmed();
        return;
      }
      await this.sleepers.sleep(retry.next());
    }
  }

  /**
   * Held ticks whose ids the exchange does not have (beyond REST's newest
   * trade, asked now) are rejected as `ahead_of_exchange`: believed, one
   * would end the gap by skipping to it, and every real trade up to it would
   * then be dropped as a repeat. True when it changed the held ticks or
   * waited to ask again (the caller looks at the gap afresh).
   */
  private async dropAheadOfExchange(symbol: string, seq: SymbolSequencer): Promise<boolean> {
    const askedAt = this.options.now();
    const newest = await this.exchangeNewest(symbol);
    if (newest === undefined || this.closed) return false;
    const dropped = seq.dropHeldAbove(newest, askedAt - AHEAD_GRACE_MS);
    for (const tick of dropped) this.rejectAhead(symbol, tick, newest);
    if (seq.hasHeldAbove(newest)) {
      // Arrived too recently for REST to be sure of: ask again once the grace has passed.
      await this.sleepers.sleep(AHEAD_GRACE_MS);
      return true;
    }
    return dropped.length > 0;
  }

  private rejectAhead(symbol: string, tick: Tick, newest: number): void {
    this.hooks.reject(
      'ahead_of_exchange',
      `${symbol} trade id ${tick.tradeId}: the exchange's newest is ${newest}`,
    );
  }

  /**
   * The resume point is ahead of the exchange's newest trade (a database of
   * another exchange or environment, a corrupted id): obeyed, it would drop
   * every real trade up to it as a repeat. Resume from the exchange's newest.
   */
  private resumeAhead(target: GapSymbol, newest: number): boolean {
    const { symbol, sequencer } = target;
    const resumeFrom = sequencer.lastId!;
    // Refused when the stream already delivered past it: then the exchange does have such ids.
    if (!sequencer.rewind(newest)) return false;
    this.resumeAheadOfExchange.push({ symbol, resumeFrom, exchangeNewest: newest });
    this.options.metrics?.errors.inc({ component: 'exchange' });
    this.options.logger.error(
      { symbol, resumeFrom, exchangeNewest: newest },
      `binance: resumeFrom ${resumeFrom} of ${symbol} is ahead of the exchange's newest trade ${newest}: resuming from ${newest} instead`,
    );
    return true;
  }

  private restBanned(): boolean {
    return this.rest.bannedUntil > this.options.now();
  }

  /**
   * The IP is banned from REST (418): log it once, and wake every backfill
   * sleeping before its next request so each gives its gap up now instead of
   * holding the stream behind it for the length of the ban.
   */
  private onRestBanned(): void {
    const until = new Date(this.rest.bannedUntil).toISOString();
    this.options.logger.error(
      { bannedUntil: until },
      `binance: REST answered 418, the IP is banned until ${until}: no REST request until then, gaps meanwhile are counted as missed`,
    );
    this.sleepers.wakeAll();
  }

  /**
   * Runs a REST call within the weight budget and after any `Retry-After`
   * (429); `undefined` when it failed (logged), the IP is banned, or the
   * filler closed.
   */
  private async restCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    // Checked again after every wait: another backfill's 429 or 418 may have come meanwhile.
    for (let wait = this.rest.waitMs(); wait > 0; wait = this.rest.waitMs()) {
      if (this.closed || this.restBanned()) return undefined;
      await this.sleepers.sleep(wait);
    }
    if (this.closed || this.restBanned()) return undefined;
    this.restRequests++;
    try {
      const result = await call();
      // An answer landing after close() is not delivered, so it must not move anything.
      return this.closed ? undefined : result;
    } catch (error) {
      if (this.closed) return undefined;
      this.restErrors++;
      this.options.metrics?.errors.inc({ component: 'exchange' });
      if (error instanceof RestRequestError && error.status === 418) this.onRestBanned();
      else this.options.logger.warn({ error: String(error) }, 'binance: REST request failed');
      return undefined;
    }
  }
}
