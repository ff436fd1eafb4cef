import type { SymbolRules } from '@trade/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ExchangeRulesCache } from './exchange-rules-cache.js';

const RULES: SymbolRules = {
  symbol: 'X',
  tickSize: '0.01000000',
  stepSize: '0.00001000',
  minQty: '0.00001000',
  minNotional: '5.00000000',
};

describe('ExchangeRulesCache', () => {
  it('reads each symbol once, and a symbol it could not read again only after 5 minutes', async () => {
    const asked: string[][] = [];
    let clock = 0;
    let down = false;
    const cache = new ExchangeRulesCache(
      'http://rest',
      pino({ level: 'silent' }),
      undefined,
      (options) => {
        asked.push([...options.symbols]);
        return down
          ? Promise.reject(new Error('HTTP 503'))
          : Promise.resolve(new Map(options.symbols.map((s) => [s, RULES])));
      },
      () => clock,
    );
    await cache.ensure(['BTCUSDT', 'BTCUSDT']);
    await cache.ensure(['BTCUSDT']);
    expect(cache.get('BTCUSDT')).toEqual(RULES);
    expect(asked).toEqual([['BTCUSDT']]);

    down = true;
    await cache.ensure(['BTCUSDT', 'ETHUSDT']);
    expect(cache.get('ETHUSDT')).toBeUndefined();
    clock += 60_000;
    await cache.ensure(['ETHUSDT']);
    expect(asked).toEqual([['BTCUSDT'], ['ETHUSDT']]);

    down = false;
    clock += 5 * 60_000;
    await cache.ensure(['ETHUSDT']);
    expect(cache.get('ETHUSDT')).toEqual(RULES);
    expect(asked).toEqual([['BTCUSDT'], ['ETHUSDT'], ['ETHUSDT']]);
  });

  it('saves what it read, and falls back to what was saved when exchangeInfo cannot be reached', async () => {
    const saved = new Map<string, SymbolRules>();
    const store = {
      save: (rules: readonly SymbolRules[]) => {
        for (const r of rules) saved.set(r.symbol, r);
        return Promise.resolve();
      },
      load: (symbols: readonly string[]) =>
        Promise.resolve(new Map([...saved].filter(([s]) => symbols.includes(s)))),
    };
    const up = new ExchangeRulesCache('http://rest', pino({ level: 'silent' }), store, (o) =>
      Promise.resolve(new Map(o.symbols.map((s) => [s, { ...RULES, symbol: s }]))),
    );
    await up.ensure(['BTCUSDT']);
    expect(saved.get('BTCUSDT')).toEqual({ ...RULES, symbol: 'BTCUSDT' });

    const down = new ExchangeRulesCache('http://rest', pino({ level: 'silent' }), store, () =>
      Promise.reject(new Error('unreachable')),
    );
    await down.ensure(['BTCUSDT', 'ETHUSDT']);
    expect(down.get('BTCUSDT')).toEqual({ ...RULES, symbol: 'BTCUSDT' });
    expect(down.get('ETHUSDT')).toBeUndefined();
  });
});
