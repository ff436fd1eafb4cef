import { describe, expect, it } from 'vitest';
import { readPaperConfig } from './paper-config.js';

const NATS = { NATS_URL: 'nats://a:4222' };

describe('readPaperConfig', () => {
  it('names its consumer after the strategy and trades every symbol unless told', () => {
    const config = readPaperConfig(NATS);
    expect(config.bus).toMatchObject({ stream: 'TRADES', consumer: 'paper-sma' });
    expect(config.strategy.name).toBe('sma');
    expect(config.symbols).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
    expect(readPaperConfig(NATS, { strategy: 'RSI' }).bus.consumer).toBe('paper-rsi');
  });

  it('takes NATS_CONSUMER, --nats, and the symbols of --symbols or SYMBOLS', () => {
    const config = readPaperConfig(
      { ...NATS, NATS_CONSUMER: 'paper-a', SYMBOLS: 'ethusdt', DATABASE_URL: 'postgres://db/x' },
      { nats: 'nats://b:4222' },
    );
    expect(config.bus).toMatchObject({ servers: ['nats://b:4222'], consumer: 'paper-a' });
    expect(config.symbols).toEqual(['ETHUSDT']);
    expect(config.databaseUrl).toBe('postgres://db/x');
    expect(
      readPaperConfig({ ...NATS, SYMBOLS: 'A1' }, { symbols: 'btcusdt,BTCUSDT' }).symbols,
    ).toEqual(['BTCUSDT']);
  });

  it.each([
    [{}, {}, 'NATS_URL: expected a nats:// URL'],
    [NATS, { strategy: 'macd' }, '--strategy: expected one of sma, rsi, got "macd"'],
    [
      { ...NATS, NATS_CONSUMER: 'store' },
      {},
      `NATS_CONSUMER: expected a consumer of paper's own, not the writers' (store); unset it for paper-sma, got "store"`,
    ],
    [NATS, { symbols: '' }, '--symbols: expected a comma-separated list'],
  ])('%j %j fails naming the setting', (env, flags, message) => {
    expect(() => readPaperConfig(env, flags)).toThrow(message);
  });
});
