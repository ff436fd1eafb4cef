import { isDecimalString, MIN_PLAUSIBLE_TRADE_TIME, type BookLevel } from '@trade/core';
import {
  describeType,
  isObject,
  parseJson,
  rejectBook,
  unwrapPayload,
  type BookReject,
} from './book-reject-reason.js';
import { comparePriceKeys, readPriceKey, type PriceKey } from './price-key.js';

/**
 * One `<sym>@depth` event: the levels that changed between update ids
 * `firstUpdateId` (`U`) and `finalUpdateId` (`u`). A quantity is the
 * level's new total; `"0"` (any zeros) removes the level.
 */
export interface DepthDiff {
  readonly symbol: string;
  /** `U`: the first update id in the event. */
  readonly firstUpdateId: number;
  /** `u`: the last update id in the event. */
  readonly finalUpdateId: number;
  /** `E`: the event time, epoch ms. */
  readonly eventTime: number;
  /** Changed bid levels, exact strings as received. */
  readonly bids: readonly BookLevel[];
  /** Changed ask levels, exact strings as received. */
  readonly asks: readonly BookLevel[];
}

/** A `GET /api/v3/depth` answer, checked: the book at `lastUpdateId`, levels best first. */
export interface DepthSnapshot {
  /** The symbol asked (the answer does not name it). */
  readonly symbol: string;
  readonly lastUpdateId: number;
  /** Highest price first. */
  readonly bids: readonly BookLevel[];
  /** Lowest price first. */
  readonly asks: readonly BookLevel[];
}

/** A depth event parsed, or why not. */
export type DepthDiffParse = { readonly kind: 'diff'; readonly diff: DepthDiff } | BookReject;

/** A depth snapshot checked, or why the whole answer is refused (`invalid_rest_answer`). */
export type DepthSnapshotParse =
  { readonly kind: 'snapshot'; readonly snapshot: DepthSnapshot } | BookReject;

/** What a snapshot request asked for, to hold its answer against. */
export interface DepthSnapshotRequest {
  readonly symbol: string;
  /** The `limit` asked: an answer with more levels on a side is refused. */
  readonly limit: number;
}

/** `GET /api/v3/depth` serves at most this many levels per side. */
export const MAX_DEPTH_LIMIT = 5000;

const SYMBOL = /^[A-Z0-9]{2,30}$/;
const NON_ZERO_DIGIT = /[1-9]/;
const DEPTH_STREAM = /^([a-z0-9]+)@depth(?:@(?:100|1000)ms)?$/;

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const key: PriceKey = { int: 0, frac: 0 };
const previous: PriceKey = { int: 0, frac: 0 };

/**
 * Checks a list of `[price, quantity]` levels: a positive decimal price the
 * book can order exactly, a decimal quantity (zero allowed). With `order`
 * (a snapshot), prices must also strictly fall (`-1`, bids) or rise (`1`,
 * asks). Returns the levels (the wire's own arrays when they are exactly
 * pairs) or why not. `edges` receives the first and last price keys.
 */
function checkLevels(
  list: unknown,
  field: string,
  order: -1 | 0 | 1,
  edges?: { best: PriceKey; found: boolean },
): BookLevel[] | string {
  if (!Array.isArray(list)) return `${field} is ${describeType(list)}, not an array`;
  const levels: BookLevel[] = new Array<BookLevel>(list.length);
  for (let i = 0; i < list.length; i++) {
    const entry: unknown = list[i];
    if (!Array.isArray(entry) || entry.length < 2) return `${field}[${i}] is not [price, qty]`;
    const price: unknown = entry[0];
    const qty: unknown = entry[1];
    if (!isDecimalString(price) || !readPriceKey(price, key)) {
      return `${field}[${i}] price ${JSON.stringify(price)} is not a decimal string`;
    }
    if (!NON_ZERO_DIGIT.test(price)) return `${field}[${i}] price ${price} is not above zero`;
    if (!isDecimalString(qty)) {
      return `${field}[${i}] quantity ${JSON.stringify(qty)} is not a decimal string`;
    }
    if (order !== 0) {
      if (i > 0 && comparePriceKeys(key, previous) * order <= 0) {
        return `${field}[${i}] price ${price} is out of order (best first, no repeats)`;
      }
      previous.int = key.int;
      previous.frac = key.frac;
      if (i === 0 && edges) {
        edges.best.int = key.int;
        edges.best.frac = key.frac;
        edges.found = true;
      }
    }
    levels[i] = entry.length === 2 ? (entry as unknown as BookLevel) : [price, qty];
  }
  return levels;
}

/**
 * Reads a `<sym>@depth` (or `@depth@100ms`) payload
 * (`{"e":"depthUpdate","E":..,"s":..,"U":..,"u":..,"b":[[p,q]..],"a":[..]}`),
 * bare or in its combined-stream envelope, into a {@link DepthDiff}. Never
 * throws. Checked: every field present, safe integer ids with `U <= u`, a
 * plausible event time, decimal string levels with prices above zero.
 *
 * @example
 * ```ts
 * const r = parseDepthDiff({ e: 'depthUpdate', E: 1700000000000, s: 'BNBUSDT', U: 157, u: 160,
 *   b: [['0.0024', '10']], a: [['0.0026', '100']] });
 * if (r.kind === 'diff') r.diff.finalUpdateId // 160
 * ```
 */
export function parseDepthDiff(value: unknown): DepthDiffParse {
  const unwrapped = unwrapPayload(value);
  if (unwrapped.kind === 'rejected') return unwrapped;
  const { data, stream } = unwrapped;
  if (data.e === undefined) return rejectBook('missing_field', 'e');
  if (data.e !== 'depthUpdate') return rejectBook('unknown_event', `e=${JSON.stringify(data.e)}`);
  for (const field of ['E', 's', 'U', 'u', 'b', 'a'] as const) {
    if (data[field] === undefined) return rejectBook('missing_field', field);
  }
  const { E, s, U, u } = data;
  if (typeof s !== 'string' || !SYMBOL.test(s)) return rejectBook('invalid_field', 's');
  if (!isId(E)) return rejectBook('invalid_field', 'E');
  if (!isId(U)) return rejectBook('invalid_field', 'U');
  if (!isId(u)) return rejectBook('invalid_field', 'u');
  if (U > u) return rejectBook('invalid_field', `U=${U} is after u=${u}`);
  const bids = checkLevels(data.b, 'b', 0);
  if (typeof bids === 'string') return rejectBook('invalid_field', bids);
  const asks = checkLevels(data.a, 'a', 0);
  if (typeof asks === 'string') return rejectBook('invalid_field', asks);
  if (E < MIN_PLAUSIBLE_TRADE_TIME) return rejectBook('implausible_time', `E=${E}`);
  if (stream !== undefined && DEPTH_STREAM.exec(stream)?.[1] !== s.toLowerCase()) {
    return rejectBook('symbol_mismatch', `stream ${stream} carries ${s}`);
  }
  return {
    kind: 'diff',
    diff: { symbol: s, firstUpdateId: U, finalUpdateId: u, eventTime: E, bids, asks },
  };
}

/** {@link parseDepthDiff} for frame text: `invalid_json` when it is not JSON. */
export function parseDepthDiffText(text: string): DepthDiffParse {
  const parsed = parseJson(text);
  return parsed.kind === 'rejected' ? parsed : parseDepthDiff(parsed.value);
}

const bestBid = { best: { int: 0, frac: 0 }, found: false };
const bestAsk = { best: { int: 0, frac: 0 }, found: false };

/**
 * Checks a `GET /api/v3/depth?symbol=&limit=` answer
 * (`{"lastUpdateId":N,"bids":[[p,q]..],"asks":[..]}`) before it is
 * trusted: a safe integer `lastUpdateId`; decimal string levels the book
 * can order exactly, prices above zero; each side strictly best first; no
 * more levels per side than `limit`; the best bid below the best ask. One
 * failed check refuses the whole answer (`invalid_rest_answer`). Never throws.
 *
 * @example
 * ```ts
 * const r = parseDepthSnapshot(await response.json(), { symbol: 'BNBUSDT', limit: 1000 });
 * if (r.kind === 'snapshot') book.applySnapshot(r.snapshot);
 * ```
 */
export function parseDepthSnapshot(
  value: unknown,
  asked: DepthSnapshotRequest,
): DepthSnapshotParse {
  const refuse = (why: string) =>
    rejectBook('invalid_rest_answer', `depth ${asked.symbol}: ${why}`);
  if (!isObject(value)) return refuse(`answer is ${describeType(value)}, not an object`);
  const { lastUpdateId } = value;
  if (!isId(lastUpdateId)) return refuse(`lastUpdateId ${JSON.stringify(lastUpdateId)}`);
  bestBid.found = false;
  bestAsk.found = false;
  const bids = checkLevels(value.bids, 'bids', -1, bestBid);
  if (typeof bids === 'string') return refuse(bids);
  const asks = checkLevels(value.asks, 'asks', 1, bestAsk);
  if (typeof asks === 'string') return refuse(asks);
  const limit = Math.min(asked.limit, MAX_DEPTH_LIMIT);
  if (bids.length > limit) return refuse(`${bids.length} bids, asked for at most ${limit}`);
  if (asks.length > limit) return refuse(`${asks.length} asks, asked for at most ${limit}`);
  if (bestBid.found && bestAsk.found && comparePriceKeys(bestBid.best, bestAsk.best) >= 0) {
    return refuse(`crossed: best bid ${bids[0]![0]} is not below best ask ${asks[0]![0]}`);
  }
  return { kind: 'snapshot', snapshot: { symbol: asked.symbol, lastUpdateId, bids, asks } };
}
