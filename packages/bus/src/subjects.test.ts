import { InvalidInputError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import {
  channelFilter,
  filterChannel,
  parseSubject,
  subjectCovers,
  tradeMsgId,
  tradeSubject,
} from './subjects.js';

describe('subjects and message ids', () => {
  it('puts a symbol and channel on md.binance.<channel>.<SYMBOL>', () => {
    expect(tradeSubject('BTCUSDT')).toBe('md.binance.trade.BTCUSDT');
    expect(tradeSubject('ethusdt', 'bookTicker')).toBe('md.binance.bookTicker.ETHUSDT');
  });

  it('names a message binance:<channel>:<SYMBOL>:<id>', () => {
    expect(tradeMsgId('btcusdt', 42)).toBe('binance:trade:BTCUSDT:42');
    expect(tradeMsgId('ETHUSDT', 0, 'depth')).toBe('binance:depth:ETHUSDT:0');
  });

  it('refuses what would make another subject or id: bad symbols, channels and ids', () => {
    for (const bad of [() => tradeSubject('BTC.USDT'), () => tradeSubject('>')]) {
      expect(bad).toThrow(InvalidInputError);
    }
    expect(() => tradeSubject('BTCUSDT', 'trade.x')).toThrow(/invalid channel/);
    expect(() => tradeSubject('BTCUSDT', '*')).toThrow(/invalid channel/);
    expect(() => tradeMsgId('BTCUSDT', -1)).toThrow(/invalid id/);
    expect(() => tradeMsgId('BTCUSDT', 1.5)).toThrow(/invalid id/);
  });

  it('takes a subject apart, and nothing else', () => {
    expect(parseSubject('md.binance.trade.BTCUSDT')).toEqual({
      channel: 'trade',
      symbol: 'BTCUSDT',
    });
    expect(parseSubject(tradeSubject('solusdt', 'bookTicker'))).toEqual({
      channel: 'bookTicker',
      symbol: 'SOLUSDT',
    });
    for (const other of [
      'md.binance.trade.>',
      'md.binance.trade.*',
      'md.binance.trade.btcusdt',
      'md.binance.trade.BTCUSDT.x',
      'md.binance.trade',
      'md.kraken.trade.BTCUSDT',
      '',
    ]) {
      expect(parseSubject(other), other).toBeUndefined();
    }
  });

  it('knows which subject patterns cover others', () => {
    expect(subjectCovers('md.binance.>', 'md.binance.>')).toBe(true);
    expect(subjectCovers('md.>', 'md.binance.>')).toBe(true);
    expect(subjectCovers('>', 'md.binance.trade.BTCUSDT')).toBe(true);
    expect(subjectCovers('md.*.>', 'md.binance.trade.*')).toBe(true);
    expect(subjectCovers('md.binance.trade.*', 'md.binance.>')).toBe(false);
    expect(subjectCovers('md.binance.trade.BTCUSDT', 'md.binance.trade.*')).toBe(false);
    expect(subjectCovers('md.binance.>', 'md.binance')).toBe(false);
    expect(subjectCovers('md.binance', 'md.binance.trade')).toBe(false);
  });
});

describe('channel filters', () => {
  it("gives a channel's filter, and the channel a filter is limited to", () => {
    expect(channelFilter('bookTicker')).toBe('md.binance.bookTicker.>');
    expect(filterChannel('md.binance.trade.>')).toBe('trade');
    expect(filterChannel('md.binance.depth.BTCUSDT')).toBe('depth');
    expect(filterChannel('md.binance.>')).toBeUndefined();
    expect(filterChannel('md.binance.*.BTCUSDT')).toBeUndefined();
    expect(filterChannel('md.other.trade.>')).toBeUndefined();
    expect(() => channelFilter('a.b')).toThrow(InvalidInputError);
  });
});
