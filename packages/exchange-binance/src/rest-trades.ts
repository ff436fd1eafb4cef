import { TradeError, type Tick, type TickRejectReason } from '@trade/core';
import { parseFrameValue, type TradeStreamType } from './parse-frame.js';
import { parseRetryAfter } from './retry-after.js';

/** Options of {@link RestTrades}. */
export interface RestTradesOptions {
  /** e.g. `https://api.binance.com`. */
  restUrl: string;
  /** `trade` reads `historicalTrades`, `aggTrade` reads `aggTrades`. */
  streamType: TradeStreamType;
  /** Request weight this client may use per minute (Binance allows 6000 per IP). Default 2400. */
  weightPerMinute?: number;
  /** Sent as `X-MBX-APIKEY` when set. */
  apiKey?: string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** Called for each REST row that is not a valid trade. */
  onReject?: (reason: TickRejectReason, detail: string) => void;
}

/** A REST request that failed; `retryAfterMs` is set when the server asked to wait. */
export class RestRequestError extends TradeError {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, status?: number, retryAfterMs?: number, cause?: unknown) {
    super(message, { cause, isRetryable: status === undefined || status === 429 || status >= 500 });
    this.name = 'RestRequestError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

const WEIGHT = { trade: 25, aggTrade: 4 } as const;

/** Binance's shortest IP ban, assumed when a 418 comes without `Retry-After`. */
const DEFAULT_BAN_MS = 120_000;

/**
 * Reads past trades over Binance REST for gap backfill, within a request
 * weight budget per minute, and honouring `Retry-After`: after a 429 (or
 * any other error that carries it), {@link waitMs} holds the next request
 * back until it elapsed; a 418 (the IP
 * is banned, and every request meanwhile lengthens the ban) sets
 * {@link bannedUntil}, and callers must not send anything before it.
 */
export class RestTrades {
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly budget: number;
  private readonly spent: { at: number; weight: number }[] = [];
  private blockedUntil = 0;
  private banEnd = 0;

  constructor(private readonly options: RestTradesOptions) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.now = options.now ?? Date.now;
    this.budget = options.weightPerMinute ?? 2400;
  }

  /** Until when (epoch ms) the IP is banned after a 418; 0 or past when not banned. */
  get bannedUntil(): number {
    return this.banEnd;
  }

  /** Milliseconds to wait before the next request fits the budget and any `Retry-After` (0: now). */
  waitMs(): number {
    const at = this.now();
    while (this.spent.length > 0 && this.spent[0]!.at <= at - 60_000) this.spent.shift();
    const weight = WEIGHT[this.options.streamType];
    let used = this.spent.reduce((sum, s) => sum + s.weight, 0);
    let wait = Math.max(0, this.blockedUntil - at);
    for (const s of this.spent) {
      if (used + weight <= this.budget) break;
      used -= s.weight;
      wait = Math.max(wait, s.at + 60_000 - at);
    }
    return wait;
  }

  /** Up to `limit` (<= 1000) trades of `symbol` from `fromId`, in id order. Call after {@link waitMs} is 0. */
  async fetchFrom(
    symbol: string,
    fromId: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<Tick[]> {
    const path = this.options.streamType === 'trade' ? 'historicalTrades' : 'aggTrades';
    return this.request(`/api/v3/${path}?symbol=${symbol}&fromId=${fromId}&limit=${limit}`, signal);
  }

  /** The newest `limit` trades of `symbol`. */
  async latest(symbol: string, limit: number, signal?: AbortSignal): Promise<Tick[]> {
    const path = this.options.streamType === 'trade' ? 'trades' : 'aggTrades';
    return this.request(`/api/v3/${path}?symbol=${symbol}&limit=${limit}`, signal);
  }

  private async request(path: string, signal?: AbortSignal): Promise<Tick[]> {
    const at = this.now();
    this.spent.push({ at, weight: WEIGHT[this.options.streamType] });
    const headers: Record<string, string> = {};
    if (this.options.apiKey) headers['x-mbx-apikey'] = this.options.apiKey;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    let response: Response;
    try {
      response = await this.fetch(this.options.restUrl + path, {
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new RestRequestError(
        `GET ${path} failed: ${String(error)}`,
        undefined,
        undefined,
        error,
      );
    }
    if (!response.ok) {
      const answeredAt = this.now();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), answeredAt);
      if (response.status === 418) {
        this.banEnd = Math.max(this.banEnd, answeredAt + (retryAfterMs ?? DEFAULT_BAN_MS));
      } else if (retryAfterMs !== undefined) {
        // 429 (rate limit) above all, but a 503 that says when to come back is heeded too.
        this.blockedUntil = Math.max(this.blockedUntil, answeredAt + retryAfterMs);
      }
      const body = await response.text().catch(() => '');
      throw new RestRequestError(
        `GET ${path} answered ${response.status}: ${body.slice(0, 200)}`,
        response.status,
        retryAfterMs,
      );
    }
    const rows: unknown = await response.json();
    if (!Array.isArray(rows))
      throw new RestRequestError(`GET ${path}: not an array`, response.status);
    const symbol = /symbol=([A-Z0-9]+)/.exec(path)?.[1] ?? '';
    const receiveTime = this.now();
    const ticks: Tick[] = [];
    for (const row of rows) {
      const r = parseFrameValue(
        this.asStreamPayload(row, symbol),
        this.options.streamType,
        receiveTime,
      );
      if (r.kind === 'tick') ticks.push(r.tick);
      else if (r.kind === 'rejected') this.options.onReject?.(r.reason, `REST: ${r.detail}`);
    }
    ticks.sort((a, b) => a.tradeId - b.tradeId);
    return ticks;
  }

  /** A REST row in the stream payload's shape, so one validator checks both. */
  private asStreamPayload(row: unknown, symbol: string): unknown {
    if (typeof row !== 'object' || row === null) return row;
    const r = row as Record<string, unknown>;
    if (this.options.streamType === 'aggTrade') return { e: 'aggTrade', s: symbol, ...r };
    return { e: 'trade', s: symbol, t: r.id, p: r.price, q: r.qty, T: r.time, m: r.isBuyerMaker };
  }
}
