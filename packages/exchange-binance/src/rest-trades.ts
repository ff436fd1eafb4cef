import { TradeError, type Tick, type TickRejectReason } from '@trade/core';
import { describeType, type TradeStreamType } from './parse-frame.js';
import { parseRetryAfter } from './retry-after.js';
import { checkTrade, type TradeFieldNames } from './trade-fields.js';

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
  /** Per-request timeout, body included: a server that hangs or trickles is cut off. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /**
   * Called for each REST row that is not a valid trade (its frame reason),
   * and once for each answer refused as a whole (`invalid_rest_answer`).
   */
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

/**
 * A REST answer that is not what was asked (more rows than `limit`, ids
 * outside the asked range, another symbol, a body over the size bound, not
 * a JSON array): none of it is used. The client treats it as a failed
 * request: retried, then the gap given up.
 */
export class RestAnswerError extends RestRequestError {
  constructor(message: string, status?: number) {
    super(message, status);
    this.name = 'RestAnswerError';
  }
}

const WEIGHT = { trade: 25, aggTrade: 4 } as const;

/**
 * Where a REST row keeps a trade's fields: `historicalTrades` and `trades`
 * rows have names, `aggTrades` rows the stream's letters. The symbol is the
 * one asked (checkRows refused any other).
 */
const ROW_FIELDS: Record<TradeStreamType, TradeFieldNames> = {
  trade: {
    symbol: 'symbol',
    id: 'id',
    price: 'price',
    quantity: 'qty',
    time: 'time',
    isBuyerMaker: 'isBuyerMaker',
  },
  aggTrade: { symbol: 's', id: 'a', price: 'p', quantity: 'q', time: 'T', isBuyerMaker: 'm' },
};

/**
 * Body bound per row asked: a Binance trade row is about 150 bytes, so 2 KiB
 * a row (about 2 MiB for 1000 rows, plus a little slack) is never reached by
 * an honest answer, and a hostile one is cut off there instead of filling memory.
 */
const MAX_BYTES_PER_ROW = 2048;
const BODY_SLACK_BYTES = 16 * 1024;
/** Error bodies are only logged: the first 64 KiB is plenty. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Binance's shortest IP ban, assumed when a 418 comes without `Retry-After`. */
export const DEFAULT_BAN_MS = 120_000;

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

  /** The IP is banned until `epochMs` (a 418 another REST user of the IP was given). */
  noteBan(epochMs: number): void {
    this.banEnd = Math.max(this.banEnd, epochMs);
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

  /**
   * Up to `limit` (<= 1000) trades of `symbol` from `fromId`, in id order.
   * Call after {@link waitMs} is 0. Trade ids are consecutive, so an honest
   * answer holds ids in `[fromId, fromId + limit)` (fewer when history
   * starts later or ends sooner); anything else is a {@link RestAnswerError}.
   */
  async fetchFrom(
    symbol: string,
    fromId: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<Tick[]> {
    const path = this.options.streamType === 'trade' ? 'historicalTrades' : 'aggTrades';
    return this.request(
      `/api/v3/${path}?symbol=${symbol}&fromId=${fromId}&limit=${limit}`,
      { symbol, limit, fromId },
      signal,
    );
  }

  /** The newest `limit` trades of `symbol` (at most `limit` rows, or a {@link RestAnswerError}). */
  async latest(symbol: string, limit: number, signal?: AbortSignal): Promise<Tick[]> {
    const path = this.options.streamType === 'trade' ? 'trades' : 'aggTrades';
    return this.request(
      `/api/v3/${path}?symbol=${symbol}&limit=${limit}`,
      { symbol, limit },
      signal,
    );
  }

  private async request(path: string, asked: Asked, signal?: AbortSignal): Promise<Tick[]> {
    const at = this.now();
    this.spent.push({ at, weight: WEIGHT[this.options.streamType] });
    const headers: Record<string, string> = {};
    if (this.options.apiKey) headers['x-mbx-apikey'] = this.options.apiKey;
    // Stays on the response: it bounds reading the body as well as the headers.
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
      const body = await readBody(response, MAX_ERROR_BODY_BYTES).catch(() => '');
      throw new RestRequestError(
        `GET ${path} answered ${response.status}: ${body.slice(0, 200)}`,
        response.status,
        retryAfterMs,
      );
    }
    const maxBytes = asked.limit * MAX_BYTES_PER_ROW + BODY_SLACK_BYTES;
    let text: string;
    try {
      text = await readBody(response, maxBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        throw this.invalid(path, `body over ${maxBytes} bytes`, response.status);
      }
      throw new RestRequestError(
        `GET ${path} failed reading the body: ${String(error)}`,
        undefined,
        undefined,
        error,
      );
    }
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch {
      throw this.invalid(path, 'not JSON', response.status);
    }
    if (!Array.isArray(rows)) throw this.invalid(path, 'not an array', response.status);
    const wrong = this.checkRows(rows, asked);
    if (wrong !== undefined) throw this.invalid(path, wrong, response.status);
    const receiveTime = this.now();
    const names = ROW_FIELDS[this.options.streamType];
    const ticks: Tick[] = [];
    for (const row of rows) {
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        this.options.onReject?.('not_an_object', `REST: ${describeType(row)}`);
        continue;
      }
      const r = checkTrade(row as Record<string, unknown>, names, receiveTime, asked.symbol);
      if (r.kind === 'tick') ticks.push(r.tick);
      else this.options.onReject?.(r.reason, `REST: ${r.detail}`);
    }
    return ticks;
  }

  /**
   * Why the rows as a whole are not an answer to what was asked, or
   * `undefined`. One lie (a far id, another symbol's trades) in an answer
   * makes the rest of it untrustworthy too, so the whole answer goes.
   */
  private checkRows(rows: unknown[], asked: Asked): string | undefined {
    if (rows.length > asked.limit) return `${rows.length} rows, asked for at most ${asked.limit}`;
    const idField = this.options.streamType === 'trade' ? 'id' : 'a';
    let previous = -1;
    for (const row of rows) {
      if (typeof row !== 'object' || row === null) continue; // the row's own rejection says why
      const r = row as Record<string, unknown>;
      const symbol = r.symbol ?? r.s;
      if (symbol !== undefined && symbol !== asked.symbol) {
        return `a row of ${JSON.stringify(symbol)}, asked for ${asked.symbol}`;
      }
      const id = r[idField];
      if (typeof id !== 'number' || !Number.isSafeInteger(id)) continue;
      if (asked.fromId !== undefined && (id < asked.fromId || id >= asked.fromId + asked.limit)) {
        return `id ${id} outside the asked ${asked.fromId}..${asked.fromId + asked.limit - 1}`;
      }
      if (id <= previous) return `id ${id} after ${previous}: not in ascending order`;
      previous = id;
    }
    return undefined;
  }

  private invalid(path: string, why: string, status: number): RestAnswerError {
    const detail = `GET ${path}: ${why}`;
    this.options.onReject?.('invalid_rest_answer', detail);
    return new RestAnswerError(`${detail}; the whole answer is refused`, status);
  }
}

/** What a request asked for, to hold its answer against. */
interface Asked {
  readonly symbol: string;
  readonly limit: number;
  /** Set for `fromId` requests: ids must lie in `[fromId, fromId + limit)`. */
  readonly fromId?: number;
}

/** A body over the bound {@link readBody} was given. */
export class BodyTooLarge extends Error {}

/**
 * The body as text, reading at most `maxBytes`: a declared `Content-Length`
 * over it is refused before reading, and a body that grows past it is
 * cancelled mid-stream (memory stays within `maxBytes` plus one chunk).
 */
export async function readBody(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge();
  }
  const body = response.body;
  if (body === null) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
