import { ConfigError, TICK_REJECT_REASONS } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { BOOK_REJECT_REASONS } from './book/book-reject-reason.js';
import { bookStreamOf, resolveChannels, streamNamesOf } from './market-channel.js';

describe('market channels', () => {
  it('resolves a list in a fixed order, once each, and refuses unknown or empty ones naming the setting', () => {
    expect(resolveChannels(['depth', 'trade', 'depth'])).toEqual(['trade', 'depth']);
    expect(() => resolveChannels(['trade', 'ticker'], 'CHANNELS')).toThrow(ConfigError);
    expect(() => resolveChannels(['trade', 'ticker'], 'CHANNELS')).toThrow(
      /^CHANNELS: expected a comma list of trade, bookTicker, depth/,
    );
    expect(() => resolveChannels([])).toThrow(/channels: expected at least one/);
  });

  it('names a symbol’s streams per channel', () => {
    expect(streamNamesOf('BTCUSDT', ['trade', 'bookTicker', 'depth'], 'trade')).toEqual([
      'btcusdt@trade',
      'btcusdt@bookTicker',
      'btcusdt@depth@100ms',
    ]);
    expect(streamNamesOf('BTCUSDT', ['trade'], 'aggTrade')).toEqual(['btcusdt@aggTrade']);
  });

  it('tells quote and depth frames by their stream name, and leaves everything else to the trade parser', () => {
    const frame = (text: string) => Buffer.from(text);
    expect(
      bookStreamOf(frame('{"stream":"bnbusdt@bookTicker","data":{"u":1,"s":"BNBUSDT"}}')),
    ).toBe('bookTicker');
    expect(bookStreamOf(frame('{"stream":"bnbusdt@depth@100ms","data":{"e":"depthUpdate"}}'))).toBe(
      'depth',
    );
    expect(bookStreamOf(frame('{"stream":"bnbusdt@depth","data":{"e":"depthUpdate","E":1}}'))).toBe(
      'depth',
    );
    expect(
      bookStreamOf(frame('{"stream":"bnbusdt@trade","data":{"e":"trade","E":1,"s":"BNBUSDT"}}')),
    ).toBeUndefined();
    expect(
      bookStreamOf(frame('{"e":"bookTicker","u":1,"s":"BNBUSDT","b":"1","B":"1"}')),
    ).toBeUndefined();
    expect(bookStreamOf(frame('{"result":null,"id":1}'))).toBeUndefined();
    expect(bookStreamOf(frame('{"stream":"bnbusdt@bookTickerX","data":{}}'))).toBeUndefined();
  });

  it('counts every quote and book refusal under a reason trading_ticks_rejected_total knows', () => {
    expect([...TICK_REJECT_REASONS]).toEqual(expect.arrayContaining([...BOOK_REJECT_REASONS]));
  });
});
