import { describe, expect, it } from 'vitest';
import {
  coreRules,
  decimalUnits,
  DEFAULT_RULES,
  exchangeInfoSymbol,
  resolveRules,
} from './symbol-rules.js';

describe('decimalUnits', () => {
  it('reads decimals of up to 8 places as whole 1e-8 units', () => {
    expect(decimalUnits('0.01', 'x')).toBe(1_000_000);
    expect(decimalUnits('0.00000001', 'x')).toBe(1);
    expect(decimalUnits('25.35190000', 'x')).toBe(2_535_190_000);
    expect(decimalUnits('7', 'x')).toBe(700_000_000);
    for (const bad of ['0.000000001', '-1', '1e-8', '', ' 1', '.5', 5]) {
      expect(() => decimalUnits(bad, 'rules.X.tickSize')).toThrow(/rules\.X\.tickSize/);
    }
    expect(() => decimalUnits('9999999999', 'x')).toThrow(/below/);
  });
});

describe('resolveRules', () => {
  it('fills the defaults, as Binance writes decimals, and splits the assets', () => {
    const rules = resolveRules('BTCUSDT');
    expect(coreRules(rules)).toEqual({
      symbol: 'BTCUSDT',
      tickSize: '0.01000000',
      stepSize: '0.00001000',
      minQty: '0.00001000',
      minNotional: '5.00000000',
    });
    expect(rules).toMatchObject({
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      minPrice: DEFAULT_RULES.minPrice,
      maxPrice: DEFAULT_RULES.maxPrice,
      maxQty: DEFAULT_RULES.maxQty,
      tickUnits: 1_000_000,
      stepUnits: 1_000,
    });
    expect(resolveRules('ETHBTC')).toMatchObject({ baseAsset: 'ETH', quoteAsset: 'BTC' });
  });

  it('normalizes the values it is given', () => {
    const rules = resolveRules('ETHUSDT', {
      tickSize: '0.1',
      stepSize: '0.0001',
      minQty: '0.0001',
      minNotional: '10',
      notionalFilter: 'MIN_NOTIONAL',
      applyMinToMarket: false,
    });
    expect(coreRules(rules)).toEqual({
      symbol: 'ETHUSDT',
      tickSize: '0.10000000',
      stepSize: '0.00010000',
      minQty: '0.00010000',
      minNotional: '10.00000000',
    });
    expect(rules.notionalFilter).toBe('MIN_NOTIONAL');
    expect(rules.applyMinToMarket).toBe(false);
  });

  it('refuses a zero tick or step, a tick at odds with cents, and a minimum above its maximum', () => {
    expect(() => resolveRules('BTCUSDT', { tickSize: '0' })).toThrow(/tickSize/);
    expect(() => resolveRules('BTCUSDT', { stepSize: '0.00000000' })).toThrow(/stepSize/);
    expect(() => resolveRules('BTCUSDT', { tickSize: '0.015' })).toThrow(/tickSize/);
    expect(() => resolveRules('BTCUSDT', { minQty: '5', maxQty: '1' })).toThrow(/minQty/);
    expect(() => resolveRules('BTCUSDT', { notionalFilter: 'X' as unknown as 'NOTIONAL' })).toThrow(
      /notionalFilter/,
    );
    expect(resolveRules('BTCUSDT', { tickSize: '0.0001' }).tickUnits).toBe(10_000);
    expect(resolveRules('BTCUSDT', { tickSize: '5' }).tickUnits).toBe(500_000_000);
  });
});

describe('exchangeInfoSymbol', () => {
  it('shapes the filters as Binance does', () => {
    const info = exchangeInfoSymbol(resolveRules('BNBUSDT')) as {
      filters: Record<string, unknown>[];
    };
    expect(info).toMatchObject({
      symbol: 'BNBUSDT',
      status: 'TRADING',
      baseAsset: 'BNB',
      quoteAsset: 'USDT',
      baseAssetPrecision: 8,
      quoteAssetPrecision: 8,
    });
    const byType = new Map(info.filters.map((f) => [f.filterType, f]));
    expect(byType.get('PRICE_FILTER')).toEqual({
      filterType: 'PRICE_FILTER',
      minPrice: '0.01000000',
      maxPrice: '1000000.00000000',
      tickSize: '0.01000000',
    });
    expect(byType.get('LOT_SIZE')).toEqual({
      filterType: 'LOT_SIZE',
      minQty: '0.00001000',
      maxQty: '9000.00000000',
      stepSize: '0.00001000',
    });
    expect(byType.get('NOTIONAL')).toEqual({
      filterType: 'NOTIONAL',
      minNotional: '5.00000000',
      applyMinToMarket: true,
      maxNotional: '9000000.00000000',
      applyMaxToMarket: false,
      avgPriceMins: 5,
    });
    expect(byType.has('MIN_NOTIONAL')).toBe(false);
  });

  it('can show the older MIN_NOTIONAL filter instead', () => {
    const info = exchangeInfoSymbol(
      resolveRules('BNBUSDT', { notionalFilter: 'MIN_NOTIONAL', minNotional: '0.001' }),
    ) as { filters: Record<string, unknown>[] };
    const filters = info.filters.filter((f) => String(f.filterType).includes('NOTIONAL'));
    expect(filters).toEqual([
      {
        filterType: 'MIN_NOTIONAL',
        minNotional: '0.00100000',
        applyToMarket: true,
        avgPriceMins: 5,
      },
    ]);
  });
});
