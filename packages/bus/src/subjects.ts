import { InvalidInputError, normalizeSymbol, type TradingSymbol } from '@trade/core';

/** The channel of trades: `md.binance.trade.<SYMBOL>`. */
export const TRADE_CHANNEL = 'trade';

/** The channel of quotes (Binance `<sym>@bookTicker`): `md.binance.bookTicker.<SYMBOL>`. */
export const BOOK_TICKER_CHANNEL = 'bookTicker';

/** The channel of order book snapshots: `md.binance.depth.<SYMBOL>`. */
export const DEPTH_CHANNEL = 'depth';

/** What a stream of the bus holds by default: every channel of every symbol. */
export const DEFAULT_STREAM_SUBJECTS: readonly string[] = Object.freeze(['md.binance.>']);

const PREFIX = 'md.binance.';
const MSG_ID_PREFIX = 'binance:';
// One subject token: no dots, wildcards or spaces; `trade`, `bookTicker`, `depth`.
const CHANNEL = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const UPPER_SYMBOL = /^[A-Z0-9]{2,30}$/;

/**
 * Returns `channel` when it can be one token of a subject (a letter, then
 * letters, digits, `_` or `-`, at most 32), and throws
 * {@link InvalidInputError} naming `field` otherwise.
 */
export function busChannel(channel: unknown, field = 'channel'): string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    throw new InvalidInputError(field, channel, 'a subject token such as trade or bookTicker');
  }
  return channel;
}

/**
 * The subject a symbol's messages of a channel are published on.
 *
 * @example
 * ```ts
 * tradeSubject('btcusdt') // 'md.binance.trade.BTCUSDT'
 * tradeSubject('ETHUSDT', 'bookTicker') // 'md.binance.bookTicker.ETHUSDT'
 * ```
 */
export function tradeSubject(symbol: string, channel: string = TRADE_CHANNEL): string {
  return `${PREFIX}${busChannel(channel)}.${normalizeSymbol(symbol)}`;
}

/**
 * The `Nats-Msg-Id` of a message: JetStream keeps one message per id within
 * the stream's duplicate window, so every collector publishing the same
 * trade leaves one copy.
 *
 * @example
 * ```ts
 * tradeMsgId('BTCUSDT', 42) // 'binance:trade:BTCUSDT:42'
 * ```
 */
export function tradeMsgId(symbol: string, id: number, channel: string = TRADE_CHANNEL): string {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new InvalidInputError('id', id, 'a non-negative safe integer');
  }
  return `${MSG_ID_PREFIX}${busChannel(channel)}:${normalizeSymbol(symbol)}:${id}`;
}

/** A subject of the bus, taken apart by {@link parseSubject}. */
export interface BusSubject {
  readonly channel: string;
  readonly symbol: TradingSymbol;
}

/**
 * Takes `md.binance.<channel>.<SYMBOL>` apart; `undefined` for any other
 * subject (wildcards, lower-case symbols and extra tokens included).
 *
 * @example
 * ```ts
 * parseSubject('md.binance.trade.BTCUSDT') // { channel: 'trade', symbol: 'BTCUSDT' }
 * parseSubject('md.binance.trade.>') // undefined
 * ```
 */
export function parseSubject(subject: string): BusSubject | undefined {
  if (!subject.startsWith(PREFIX)) return undefined;
  const tokens = subject.slice(PREFIX.length).split('.');
  if (tokens.length !== 2) return undefined;
  const [channel, symbol] = tokens as [string, string];
  if (!CHANNEL.test(channel) || !UPPER_SYMBOL.test(symbol)) return undefined;
  return { channel, symbol };
}

/**
 * Whether every subject `subject` can match is also matched by `pattern`,
 * with NATS wildcards: `*` is one token, a final `>` one or more.
 *
 * @example
 * ```ts
 * subjectCovers('md.>', 'md.binance.>') // true
 * subjectCovers('md.binance.trade.*', 'md.binance.>') // false
 * ```
 */
export function subjectCovers(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i]!;
    if (token === '>') return i < have.length;
    const other = have[i];
    if (other === undefined || other === '>') return false;
    if (token !== '*' && (other === '*' || token !== other)) return false;
  }
  return want.length === have.length;
}

/**
 * The subject pattern of every symbol of a channel: a consumer's filter.
 *
 * @example
 * ```ts
 * channelFilter('bookTicker') // 'md.binance.bookTicker.>'
 * ```
 */
export function channelFilter(channel: string): string {
  return `${PREFIX}${busChannel(channel)}.>`;
}

/**
 * The channel a filter subject of the bus is limited to: `trade` for
 * `md.binance.trade.>` or `md.binance.trade.BTCUSDT`; `undefined` when it
 * names no single channel (`md.binance.>`, `md.binance.*.BTCUSDT`, other
 * subjects).
 *
 * @example
 * ```ts
 * filterChannel('md.binance.depth.>') // 'depth'
 * filterChannel('md.binance.>') // undefined
 * ```
 */
export function filterChannel(filter: string): string | undefined {
  if (!filter.startsWith(PREFIX)) return undefined;
  const tokens = filter.slice(PREFIX.length).split('.');
  const channel = tokens[0]!;
  return tokens.length >= 2 && CHANNEL.test(channel) ? channel : undefined;
}
