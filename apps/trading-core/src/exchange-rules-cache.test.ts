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
});
