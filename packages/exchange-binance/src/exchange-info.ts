import {
  InvalidInputError,
  isDecimalString,
  normalizeSymbol,
  type DecimalString,
  type SymbolRules,
} from '@trade/core';
import { BodyTooLarge, DEFAULT_BAN_MS, readBody, RestRequestError } from './rest-trades.js';
import { parseRetryAfter } from './retry-after.js';

/** Options of {@link fetchSymbolRules}. */
export interface FetchSymbolRulesOptions {
  /** e.g. `https://api.binance.com`. */
  restUrl: string;
  /** The symbols whose rules are wanted, e.g. `['BTCUSDT', 'ETHUSDT']` (upper-cased, repeats asked once). */
  symbols: readonly string[];
  fetch?: typeof fetch;
  /** Stops the request; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bound on the whole request, body included. Default 10 s. */
  timeoutMs?: number;
  /** Sent as `X-MBX-APIKEY` when set (`exchangeInfo` needs none). */
  apiKey?: string;
  /**
   * Until when (epoch ms) REST must not be asked: an IP ban (HTTP 418) seen
   * by any REST user of the process. Meanwhile the request is not sent
   * (it would lengthen the ban) and fails at once, `retryAfterMs` the rest.
   */
  bannedUntil?: () => number;
  /** Told of a 418 answer: until when the IP is banned. */
  onBanned?: (untilEpochMs: number) => void;
  /** Clock, milliseconds. Default `Date.now`. */
  now?: () => number;
}

/**
 * An `exchangeInfo` entry is a few KiB (its filters, order types and
 * permission sets): 32 KiB a symbol asked, plus the envelope, is never
 * reached by an honest answer.
 */
const MAX_BYTES_PER_SYMBOL = 32 * 1024;
const ENVELOPE_BYTES = 64 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Binance's error code for a symbol it does not list. */
const INVALID_SYMBOL = -1121;

/**
 * Reads the exchange rules of `symbols` from Binance's
 * `GET /api/v3/exchangeInfo?symbols=["BTCUSDT",...]` (request weight 20):
 * `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize` and `minQty`, and
 * `NOTIONAL.minNotional` (or the older `MIN_NOTIONAL.minNotional`), as the
 * exact strings the exchange wrote. A zero tick or step is kept: Binance
 * uses it to switch that rule off.
 *
 * The answer is checked whole before any of it is used: a symbol missing,
 * one not asked for, a filter or a decimal that is not there or not a plain
 * decimal string throws an `InvalidInputError` whose `field` names the
 * symbol and the filter field (e.g. `exchangeInfo.ETHUSDT.LOT_SIZE.stepSize`).
 * A symbol the exchange does not list (its answer 400, code -1121) is an
 * `InvalidInputError` of `symbols`. A failed request (network, timeout,
 * another HTTP status) is a `RestRequestError` with the status and, when the
 * server asked to wait (429, or a 418 ban), `retryAfterMs`: do not ask
 * again before it elapsed.
 *
 * @example
 * ```ts
 * const rules = await fetchSymbolRules({
 *   restUrl: 'https://api.binance.com',
 *   symbols: ['BTCUSDT', 'ETHUSDT'],
 * });
 * rules.get('BTCUSDT'); // { symbol: 'BTCUSDT', tickSize: '0.01000000', stepSize: '0.00001000', ... }
 * ```
 */
export async function fetchSymbolRules(
  options: FetchSymbolRulesOptions,
): Promise<Map<string, SymbolRules>> {
  const symbols = askedSymbols(options.symbols);
  const path = `/api/v3/exchangeInfo?symbols=${encodeURIComponent(JSON.stringify(symbols))}`;
  const text = await get(
    options,
    path,
    symbols,
    ENVELOPE_BYTES + symbols.length * MAX_BYTES_PER_SYMBOL,
  );
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new InvalidInputError('exchangeInfo', text, 'a JSON answer');
  }
  return symbolRulesOf(answer, symbols);
}

/** `symbols` upper-cased and checked, each once, in the order given. */
function askedSymbols(symbols: readonly string[]): string[] {
  if (!Array.isArray(symbols) || symbols.length === 0) {
    throw new InvalidInputError('symbols', symbols, 'at least one symbol');
  }
  return [...new Set(symbols.map((s, i) => normalizeSymbol(s, `symbols[${i}]`)))];
}

/** GETs `path` and returns the body of a 2xx answer, within `maxBytes`; see {@link fetchSymbolRules} for the errors. */
async function get(
  options: FetchSymbolRulesOptions,
  path: string,
  symbols: readonly string[],
  maxBytes: number,
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0) || !Number.isSafeInteger(timeoutMs)) {
    throw new InvalidInputError('timeoutMs', timeoutMs, 'a whole number of milliseconds above 0');
  }
  const now = options.now ?? Date.now;
  const shown = decodeURIComponent(path);
  const bannedFor = (options.bannedUntil?.() ?? 0) - now();
  if (bannedFor > 0) {
    throw new RestRequestError(`GET ${shown} not sent: the IP is banned`, 418, bannedFor);
  }
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const headers: Record<string, string> = {};
  if (options.apiKey) headers['x-mbx-apikey'] = options.apiKey;
  // Stays on the response: it bounds reading the body as well as the headers.
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const failed = (error: unknown, during = ''): Error => {
    if (options.signal?.aborted) return toError(options.signal.reason);
    const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : String(error);
    return new RestRequestError(
      `GET ${shown} failed${during}: ${why}`,
      undefined,
      undefined,
      error,
    );
  };
  let response: Response;
  try {
    response = await doFetch(options.restUrl.replace(/\/+$/, '') + path, { headers, signal });
  } catch (error) {
    throw failed(error);
  }
  if (!response.ok) {
    const answeredAt = now();
    let retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), answeredAt);
    if (response.status === 418) {
      retryAfterMs ??= DEFAULT_BAN_MS;
      options.onBanned?.(answeredAt + retryAfterMs);
    }
    const body = await readBody(response, MAX_ERROR_BODY_BYTES).catch(() => '');
    if (response.status === 400 && binanceCode(body) === INVALID_SYMBOL) {
      throw new InvalidInputError(
        'symbols',
        symbols.length === 1 ? symbols[0] : symbols,
        `symbols the exchange lists (GET ${shown} answered 400 ${body.slice(0, 200)})`,
      );
    }
    throw new RestRequestError(
      `GET ${shown} answered ${response.status}: ${body.slice(0, 200)}`,
      response.status,
      retryAfterMs,
    );
  }
  try {
    return await readBody(response, maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      throw new InvalidInputError(
        'exchangeInfo',
        `a body over ${maxBytes} bytes`,
        `at most ${maxBytes} bytes`,
      );
    }
    throw failed(error, ' reading the body');
  }
}

/** Binance's error `code` in an error body, if it has one. */
function binanceCode(body: string): unknown {
  try {
    return (JSON.parse(body) as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The rules of each asked symbol in an `exchangeInfo` answer, in the order
 * asked; throws an `InvalidInputError` naming the first thing that is wrong.
 */
function symbolRulesOf(answer: unknown, asked: readonly string[]): Map<string, SymbolRules> {
  const entries = isObject(answer) ? answer.symbols : undefined;
  if (!Array.isArray(entries)) {
    throw new InvalidInputError('exchangeInfo.symbols', entries, 'an array of symbols');
  }
  const wanted = new Set(asked);
  const found = new Map<string, SymbolRules>();
  entries.forEach((entry: unknown, i) => {
    const symbol = isObject(entry) ? entry.symbol : undefined;
    if (typeof symbol !== 'string' || !wanted.has(symbol)) {
      throw new InvalidInputError(
        `exchangeInfo.symbols[${i}].symbol`,
        symbol,
        `one of the symbols asked (${asked.join(', ')})`,
      );
    }
    if (found.has(symbol)) {
      throw new InvalidInputError(`exchangeInfo.${symbol}`, symbol, 'one entry per symbol');
    }
    found.set(symbol, rulesOfEntry(symbol, entry as Json));
  });
  const rules = new Map<string, SymbolRules>();
  for (const symbol of asked) {
    const entry = found.get(symbol);
    if (entry === undefined) {
      throw new InvalidInputError(`exchangeInfo.${symbol}`, undefined, 'an entry for the symbol');
    }
    rules.set(symbol, entry);
  }
  return rules;
}

/** One entry's rules from its filters. */
function rulesOfEntry(symbol: string, entry: Json): SymbolRules {
  const filters = entry.filters;
  if (!Array.isArray(filters)) {
    throw new InvalidInputError(`exchangeInfo.${symbol}.filters`, filters, 'an array of filters');
  }
  const filter = (type: string): Json | undefined =>
    filters.find((f): f is Json => isObject(f) && f.filterType === type);
  const required = (type: string): Json => {
    const found = filter(type);
    if (found === undefined) {
      throw new InvalidInputError(`exchangeInfo.${symbol}.${type}`, undefined, `a ${type} filter`);
    }
    return found;
  };
  const decimal = (f: Json, type: string, name: string): DecimalString => {
    const value = f[name];
    if (!isDecimalString(value)) {
      throw new InvalidInputError(
        `exchangeInfo.${symbol}.${type}.${name}`,
        value,
        'a decimal string such as "0.01000000"',
      );
    }
    return value;
  };
  const price = required('PRICE_FILTER');
  const tickSize = decimal(price, 'PRICE_FILTER', 'tickSize');
  const lot = required('LOT_SIZE');
  const stepSize = decimal(lot, 'LOT_SIZE', 'stepSize');
  const minQty = decimal(lot, 'LOT_SIZE', 'minQty');
  // NOTIONAL replaced MIN_NOTIONAL; a symbol may still show the older one.
  const notionalType = filter('NOTIONAL')
    ? 'NOTIONAL'
    : filter('MIN_NOTIONAL')
      ? 'MIN_NOTIONAL'
      : undefined;
  if (notionalType === undefined) {
    throw new InvalidInputError(
      `exchangeInfo.${symbol}.NOTIONAL`,
      undefined,
      'a NOTIONAL or MIN_NOTIONAL filter',
    );
  }
  const minNotional = decimal(required(notionalType), notionalType, 'minNotional');
  return { symbol, tickSize, stepSize, minQty, minNotional };
}
