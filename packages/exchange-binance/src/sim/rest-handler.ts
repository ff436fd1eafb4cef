import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RestLieKind } from './fault-injector.js';
import { levelsJson } from './book-frames.js';
import type { Market, MarketSymbol } from './market.js';
import type { RequestLog } from './request-log.js';
import { exchangeInfoSymbol } from './symbol-rules.js';
import type { SimTrade } from './trade-history.js';

/** The REST faults a request can meet, asked of their owner (a `FaultInjector`). */
export interface RestFaultSource {
  /** Uses up one forced failure, if any is left. */
  takeRestFailure(): { status: number; retryAfterSeconds: number } | undefined;
  /** Whether an answer holding ids `first`..`last` of `symbol` would show a withheld id. */
  isWithheld(symbol: string, first: number, last: number): boolean;
  /** Uses up one lie, if any is left: its kind. */
  takeLie(): RestLieKind | undefined;
  /** Whether a request arriving at `at` hangs, and how. */
  hang(at: number): { until: number; afterHeaders: boolean } | undefined;
}

/** Options of {@link RestHandler}. */
export interface RestHandlerOptions {
  readonly market: Market;
  readonly faults: RestFaultSource;
  readonly now: () => number;
  /** Request weight allowed per minute before HTTP 429. */
  readonly weightPerMinute: number;
}

/** What to answer a REST request, and when. */
export interface RestAnswer {
  readonly status: number;
  /** Headers besides `content-type: application/json`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Hold the answer until then (`0`: answer now). */
  readonly holdUntil: number;
  /** While held, send the status, headers and first byte of the body at once. */
  readonly afterHeaders: boolean;
}

/** The counters of {@link RestHandler}, as `SimulatorStats` names them. */
export interface RestHandlerStats {
  restRequests: number;
  restRejected: number;
  restWithheld: number;
  restLies: number;
  restHung: number;
  /** Order book snapshots (`/api/v3/depth`) answered. */
  depthSnapshots: number;
}

/** Most levels a side `/api/v3/depth` answers with; its default is 100. */
export const MAX_DEPTH_LIMIT = 5000;

/**
 * The request weight of `GET /api/v3/depth?limit=` as Binance counts it:
 * 1-100: 5, 101-500: 25, 501-1000: 50, more: 250.
 */
export function depthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

const TRADE_PATHS = ['/api/v3/trades', '/api/v3/historicalTrades', '/api/v3/aggTrades'];

/**
 * Binance's REST side, without a socket: `ping`, `time`, `exchangeInfo`
 * (with each symbol's filters), the order book `depth`, and the trade
 * endpoints `historicalTrades`, `trades` and `aggTrades` over the market's
 * ground truth, with request weights (HTTP 429 beyond the
 * minute's budget) and the faults its {@link RestFaultSource} holds: forced
 * failures (418 is Binance's ban), withheld history, lies, hangs.
 *
 * @example
 * ```ts
 * const rest = new RestHandler({ market, faults, now: Date.now, weightPerMinute: 6000 });
 * rest.handle('/api/v3/trades?symbol=BTCUSDT&limit=5', Date.now()).status; // 200
 * ```
 */
export class RestHandler {
  private readonly weights: { at: number; weight: number }[] = [];
  private readonly counters: RestHandlerStats = {
    restRequests: 0,
    restRejected: 0,
    restWithheld: 0,
    restLies: 0,
    restHung: 0,
    depthSnapshots: 0,
  };
  private hugePadding = '';

  constructor(private readonly options: RestHandlerOptions) {}

  /** Answers the request for `path` (path and query) arriving at `at`. */
  handle(path: string, at: number): RestAnswer {
    this.counters.restRequests++;
    // A server that stalls: the answer comes when the hang ends, if anyone still waits for it.
    const hang = this.options.faults.hang(at);
    if (hang) this.counters.restHung++;
    return {
      ...this.answer(path, at),
      holdUntil: hang?.until ?? 0,
      afterHeaders: hang?.afterHeaders ?? false,
    };
  }

  /** A copy of the counters. */
  stats(): RestHandlerStats {
    return { ...this.counters };
  }

  private answer(path: string, at: number): RestReply {
    const { faults, market } = this.options;
    const url = new URL(path, 'http://sim');
    const failure = faults.takeRestFailure();
    if (failure) {
      this.counters.restRejected++;
      return json(
        failure.status,
        { code: -1000, msg: 'Simulated failure' },
        { 'retry-after': String(failure.retryAfterSeconds) },
      );
    }
    const weight = requestWeight(url);
    const weights = this.weights;
    while (weights.length > 0 && weights[0]!.at <= at - 60_000) weights.shift();
    const used = weights.reduce((sum, w) => sum + w.weight, 0) + weight;
    if (used > this.options.weightPerMinute) {
      this.counters.restRejected++;
      return json(429, { code: -1003, msg: 'Too many requests' }, { 'retry-after': '60' });
    }
    weights.push({ at, weight });
    const headers = { 'x-mbx-used-weight-1m': String(used) };

    switch (url.pathname) {
      case '/api/v3/ping':
        return json(200, {}, headers);
      case '/api/v3/time':
        return json(200, { serverTime: at }, headers);
      case '/api/v3/exchangeInfo':
        return this.exchangeInfo(url, at);
      case '/api/v3/depth':
        return this.depth(url, headers);
    }
    if (!TRADE_PATHS.includes(url.pathname)) return json(404, { code: -1, msg: 'Not found' });
    const state = market.find(url.searchParams.get('symbol') ?? '');
    if (!state) return json(400, { code: -1121, msg: 'Invalid symbol.' }, headers);
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? 500 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      return json(
        400,
        { code: -1100, msg: 'Illegal characters found in parameter limit' },
        headers,
      );
    }
    const fromParam = url.searchParams.get('fromId');
    const history = state.history;
    const latest = url.pathname === '/api/v3/trades' || fromParam === null;
    const fromId = latest ? Math.max(history.oldestId, history.nextId - limit) : Number(fromParam);
    if (!Number.isSafeInteger(fromId) || fromId < 0) {
      return json(
        400,
        { code: -1100, msg: 'Illegal characters found in parameter fromId' },
        headers,
      );
    }
    // Ids are consecutive: an answer from fromId never reaches fromId + limit,
    // even when history older than fromId is gone and it starts later.
    const trades = history.range(fromId, limit).filter((t) => latest || t.id < fromId + limit);
    if (
      trades.length > 0 &&
      faults.isWithheld(state.symbol, trades[0]!.id, trades[trades.length - 1]!.id)
    ) {
      this.counters.restWithheld++;
      return json(503, { code: -1000, msg: 'Simulated: history withheld' }, headers);
    }
    const agg = url.pathname === '/api/v3/aggTrades';
    const lie = faults.takeLie();
    if (lie !== undefined) {
      this.counters.restLies++;
      return { status: 200, headers, body: this.lie(lie, state, fromId, limit, trades, agg) };
    }
    return json(200, restRows(trades, agg), headers);
  }

  /** `exchangeInfo`: every symbol, or those of `symbol=` or `symbols=["A","B"]`, with their filters. */
  private exchangeInfo(url: URL, at: number): RestReply {
    const { market, weightPerMinute } = this.options;
    const error = (code: number, msg: string) => json(400, { code, msg });
    const one = url.searchParams.get('symbol');
    const many = url.searchParams.get('symbols');
    if (one !== null && many !== null) {
      return error(-1128, 'Combination of optional parameters invalid.');
    }
    let names: unknown = market.symbols.map((s) => s.symbol);
    if (one !== null) names = [one];
    else if (many !== null) {
      try {
        names = JSON.parse(many);
      } catch {
        return error(-1100, "Illegal characters found in parameter 'symbols'.");
      }
    }
    if (!Array.isArray(names) || names.length === 0) {
      return error(-1100, "Illegal characters found in parameter 'symbols'.");
    }
    const symbols: MarketSymbol[] = [];
    for (const name of names) {
      const symbol = typeof name === 'string' ? market.find(name) : undefined;
      if (!symbol) return error(-1121, 'Invalid symbol.');
      symbols.push(symbol);
    }
    return json(200, {
      timezone: 'UTC',
      serverTime: at,
      rateLimits: [
        {
          rateLimitType: 'REQUEST_WEIGHT',
          interval: 'MINUTE',
          intervalNum: 1,
          limit: weightPerMinute,
        },
      ],
      exchangeFilters: [],
      symbols: symbols.map((s) => exchangeInfoSymbol(s.rules)),
    });
  }

  /** `depth`: the live book's best `limit` levels a side and its update id. */
  private depth(url: URL, headers: Record<string, string>): RestReply {
    const state = this.options.market.find(url.searchParams.get('symbol') ?? '');
    if (!state) return json(400, { code: -1121, msg: 'Invalid symbol.' }, headers);
    const limit = depthLimit(url);
    if (limit === undefined) {
      const msg = `Illegal characters found in parameter 'limit'; legal range is '1-${MAX_DEPTH_LIMIT}'.`;
      return json(400, { code: -1100, msg }, headers);
    }
    const top = state.book.top(limit);
    this.counters.depthSnapshots++;
    return {
      status: 200,
      headers,
      body: `{"lastUpdateId":${top.updateId},"bids":${levelsJson(top.bids)},"asks":${levelsJson(top.asks)}}`,
    };
  }

  /** The body of a lying answer of `kind` to a request for `limit` trades from `fromId`. */
  private lie(
    kind: RestLieKind,
    state: MarketSymbol,
    fromId: number,
    limit: number,
    trades: readonly SimTrade[],
    agg: boolean,
  ): string {
    const { market, now } = this.options;
    const fabricate = (symbol: MarketSymbol, from: number, count: number) =>
      market.fabricate(symbol, from, count, now());
    switch (kind) {
      case 'too_many_rows': {
        const first = trades[0]?.id ?? fromId;
        const real = trades.length;
        const rows = [...trades, ...fabricate(state, first + real, 2 * limit - real)];
        return JSON.stringify(restRows(rows, agg));
      }
      case 'ids_out_of_range':
        // The real trades' prices under ids not asked for: a jump if believed.
        return JSON.stringify(
          restRows(
            (trades.length > 0 ? trades : fabricate(state, fromId, 1)).map((t) => ({
              ...t,
              id: t.id + limit,
            })),
            agg,
          ),
        );
      case 'wrong_symbol': {
        const other = market.symbols.find((s) => s !== state);
        const rows =
          other === undefined
            ? trades
            : trades.map((t) => other.history.get(t.id) ?? fabricate(other, t.id, 1)[0]!);
        return JSON.stringify(restRows(rows, agg, other?.symbol ?? 'ZZZUSDT'));
      }
      case 'huge_body':
        // Valid JSON (trailing whitespace), too large to be an honest answer.
        return JSON.stringify(restRows(trades, agg)) + (this.hugePadding ||= ' '.repeat(8 << 20));
    }
  }
}

/** What to answer, before the hang faults say when. */
type RestReply = Pick<RestAnswer, 'status' | 'headers' | 'body'>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): RestReply {
  return { status, headers, body: JSON.stringify(body) };
}

/** The `limit` of a depth request (default 100), or `undefined` when it is not 1 to 5000. */
function depthLimit(url: URL): number | undefined {
  const param = url.searchParams.get('limit');
  const limit = param === null ? 100 : Number(param);
  return Number.isInteger(limit) && limit >= 1 && limit <= MAX_DEPTH_LIMIT ? limit : undefined;
}

/** What a request to `url` weighs against the minute's budget. */
function requestWeight(url: URL): number {
  switch (url.pathname) {
    case '/api/v3/aggTrades':
      return 4;
    case '/api/v3/depth':
      return depthWeight(depthLimit(url) ?? 100);
    default:
      return 25;
  }
}

/** Trades as Binance's REST rows: `historicalTrades`/`trades`, or `aggTrades`; `symbol` added when given. */
export function restRows(trades: readonly SimTrade[], agg: boolean, symbol?: string): object[] {
  const extra = symbol === undefined ? {} : { symbol };
  return agg
    ? trades.map((t) => ({
        a: t.id,
        p: t.price,
        q: t.quantity,
        f: t.id,
        l: t.id,
        T: t.time,
        m: t.isBuyerMaker,
        M: true,
        ...extra,
      }))
    : trades.map((t) => ({
        id: t.id,
        price: t.price,
        qty: t.quantity,
        quoteQty: quoteQuantity(t.price, t.quantity),
        time: t.time,
        isBuyerMaker: t.isBuyerMaker,
        isBestMatch: true,
        ...extra,
      }));
}

/** price x quantity, exactly, as a decimal string (prices have 2 and quantities 8 significant decimals here). */
export function quoteQuantity(price: string, quantity: string): string {
  const scaled = BigInt(price.replace('.', '')) * BigInt(quantity.replace('.', ''));
  const decimals =
    price.length - price.indexOf('.') - 1 + (quantity.length - quantity.indexOf('.') - 1);
  const digits = scaled.toString().padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** What {@link writeRestAnswer} needs besides the answer. */
export interface RestWriterContext {
  readonly now: () => number;
  /** Runs `fn` in `ms` (a timer the simulator cancels on close). */
  readonly later: (ms: number, fn: () => void) => void;
  /** Where answered requests are logged, when their status goes out. */
  readonly log: RequestLog;
}

/**
 * Writes `answer` to `response`, now or when its hold ends; a client that
 * gave up meanwhile gets nothing. Logs the request when its status goes out.
 */
export function writeRestAnswer(
  request: IncomingMessage,
  response: ServerResponse,
  at: number,
  answer: RestAnswer,
  context: RestWriterContext,
): void {
  const path = request.url ?? '/';
  const { status, body } = answer;
  const headers = { 'content-type': 'application/json', ...answer.headers };
  let afterHeaders = answer.afterHeaders;
  const send = () => {
    if (request.socket.destroyed) return; // the client gave up
    if (!afterHeaders) {
      context.log.add({ at, path, status });
      response.writeHead(status, headers);
    }
    response.end(afterHeaders ? body.slice(1) : body);
  };
  if (answer.holdUntil <= context.now()) {
    afterHeaders = false;
    return send();
  }
  if (afterHeaders) {
    context.log.add({ at, path, status });
    response.writeHead(status, headers);
    response.write(body.slice(0, 1));
  }
  context.later(answer.holdUntil - context.now(), send);
}
