import { ConfigError, type SymbolRules } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { NO_RULES, orderRules, rulesOf } from './exchange-rules.js';
import { decimalString } from './money.js';

const BTC: SymbolRules = {
  symbol: 'BTCUSDT',
  tickSize: '0.01000000',
  stepSize: '0.00001000',
  minQty: '0.00001000',
  minNotional: '5.00000000',
};

describe('exchange rules', () => {
  it('reads the filters as exact decimals, once per rules object', () => {
    const rules = orderRules(BTC);
    expect(decimalString(rules.tickSize.size)).toBe('0.01');
    expect(rules.stepSize.places).toBe(5);
    expect(decimalString(rules.minNotional)).toBe('5');
    expect(orderRules(BTC)).toBe(rules);
    expect(orderRules(undefined)).toBe(NO_RULES);
    // A zero step is no step: the exchange's 8 decimals.
    expect(orderRules({ ...BTC, stepSize: '0' }).stepSize.places).toBe(8);
  });

  it('names a filter that is not a decimal string', () => {
    expect(() => orderRules({ ...BTC, minNotional: '5e-1' })).toThrow(ConfigError);
    expect(() => orderRules({ ...BTC, stepSize: '' })).toThrow(/rules\.BTCUSDT\.stepSize/);
  });

  it('finds a symbol’s rules in a map or through a function', () => {
    expect(rulesOf(new Map([['BTCUSDT', BTC]]), 'BTCUSDT')).toBe(BTC);
    expect(rulesOf((s) => (s === 'BTCUSDT' ? BTC : undefined), 'ETHUSDT')).toBeUndefined();
    expect(rulesOf(undefined, 'BTCUSDT')).toBeUndefined();
  });
});
