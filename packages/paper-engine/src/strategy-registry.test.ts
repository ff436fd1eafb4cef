import { ConfigError, TradeError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { STRATEGY_NAMES, UnknownStrategyError, strategyByName } from './strategy-registry.js';

describe('strategyByName', () => {
  it('knows sma and rsi, case-insensitively, with options', () => {
    expect(STRATEGY_NAMES).toEqual(['sma', 'rsi']);
    expect(strategyByName('SMA', { fast: 3, slow: 9 }).options).toEqual({ fast: 3, slow: 9 });
    expect(strategyByName(' rsi ').name).toBe('rsi');
  });

  it('refuses an unknown name, listing the known ones', () => {
    const attempt = () => strategyByName('macd', {}, '--strategy');
    expect(attempt).toThrow('--strategy: expected one of sma, rsi, got "macd"');
    try {
      attempt();
    } catch (error) {
      expect(UnknownStrategyError.isInstance(error)).toBe(true);
      expect(ConfigError.isInstance(error)).toBe(true);
      expect(TradeError.isInstance(error)).toBe(true);
      expect((error as UnknownStrategyError).known).toEqual(['sma', 'rsi']);
    }
  });

  it('does not treat inherited property names as strategies', () => {
    expect(() => strategyByName('toString')).toThrow(UnknownStrategyError);
    expect(() => strategyByName('constructor')).toThrow(/one of sma, rsi/);
  });
});
