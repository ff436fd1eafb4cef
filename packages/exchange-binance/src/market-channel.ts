import { ConfigError } from '@trade/core';
import type { TradeStreamType } from './parse-frame.js';

/** What the client streams per symbol: trades, best bid and ask, or order book diffs. */
export type MarketChannel = 'trade' | 'bookTicker' | 'depth';

/** Every {@link MarketChannel}, in the order streams are named per symbol. */
export const MARKET_CHANNELS: readonly MarketChannel[] = ['trade', 'bookTicker', 'depth'];

/**
 * The channels as a checked, de-duplicated list in {@link MARKET_CHANNELS}
 * order; throws a `ConfigError` naming `setting` for an unknown or empty list.
 *
 * @example
 * ```ts
 * resolveChannels(['bookTicker', 'trade']); // ['trade', 'bookTicker']
 * ```
 */
export function resolveChannels(
  channels: readonly string[],
  setting = 'channels',
): readonly MarketChannel[] {
  const wanted = new Set<string>();
  for (const channel of channels) {
    if (!(MARKET_CHANNELS as readonly string[]).includes(channel)) {
      throw new ConfigError(
        setting,
        channels.join(','),
        `a comma list of ${MARKET_CHANNELS.join(', ')}`,
      );
    }
    wanted.add(channel);
  }
  if (wanted.size === 0) {
    throw new ConfigError(setting, '', `at least one of ${MARKET_CHANNELS.join(', ')}`);
  }
  return MARKET_CHANNELS.filter((c) => wanted.has(c));
}

/**
 * The stream names of one symbol for `channels`: `btcusdt@trade` (or
 * `@aggTrade`), `btcusdt@bookTicker`, `btcusdt@depth@100ms`.
 */
export function streamNamesOf(
  symbol: string,
  channels: readonly MarketChannel[],
  streamType: TradeStreamType,
): string[] {
  const lower = symbol.toLowerCase();
  return channels.map((channel) => {
    if (channel === 'trade') return `${lower}@${streamType}`;
    if (channel === 'bookTicker') return `${lower}@bookTicker`;
    return `${lower}@depth@100ms`;
  });
}

const COMBINED_PREFIX = Buffer.from('{"stream":"');
const BOOK_TICKER = Buffer.from('@bookTicker"');
const DEPTH = Buffer.from('@depth');
const AT = 0x40;

/**
 * Which non-trade stream a combined-stream frame belongs to, read from its
 * first bytes (`{"stream":"bnbusdt@bookTicker",...`); `undefined` for any
 * other frame (a trade, a reply, something malformed), which goes to the
 * trade parser and is judged there.
 */
export function bookStreamOf(frame: Buffer): 'bookTicker' | 'depth' | undefined {
  if (
    frame.length < 32 ||
    frame.compare(COMBINED_PREFIX, 0, COMBINED_PREFIX.length, 0, COMBINED_PREFIX.length) !== 0
  ) {
    return undefined;
  }
  const at = frame.indexOf(AT, COMBINED_PREFIX.length);
  if (at < 0 || at > 64) return undefined;
  if (frame.compare(BOOK_TICKER, 0, BOOK_TICKER.length, at, at + BOOK_TICKER.length) === 0) {
    return 'bookTicker';
  }
  if (frame.compare(DEPTH, 0, DEPTH.length, at, at + DEPTH.length) === 0) return 'depth';
  return undefined;
}
