import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paperConsumer, readPaperConfig } from './paper-config.js';

const NATS = { NATS_URL: 'nats://a:4222' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paper-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readPaperConfig', () => {
  it('names its consumer after the strategy and trades every symbol unless told', async () => {
    const config = await readPaperConfig(NATS);
    expect(config.bus).toMatchObject({ stream: 'TRADES', consumer: 'paper-sma' });
    expect(config.strategy.name).toBe('sma');
    expect(config.symbols).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
    expect((await readPaperConfig(NATS, { strategy: 'RSI' })).bus.consumer).toBe('paper-rsi');
  });

  it('takes --strategy-options, and a module strategy named after its definition', async () => {
    const sma = await readPaperConfig(NATS, { strategy: 'sma', strategyOptions: 'fast=3,slow=9' });
    expect(sma.strategy.options).toEqual({ fast: 3, slow: 9 });
    const file = join(dir, 'my.mjs');
    await writeFile(
      file,
      `export default (o) => ({ name: 'My Momentum!', warmUpTicks: o.n ?? 0,
        create: () => ({ onTick: () => ({ action: 'HOLD' }) }) });\n`,
    );
    const config = await readPaperConfig(NATS, { strategy: file, strategyOptions: 'n=4' });
    expect(config.strategy).toMatchObject({ name: 'My Momentum!', warmUpTicks: 4 });
    expect(config.bus.consumer).toBe('paper-My-Momentum-');
  });

  it('takes NATS_CONSUMER, --nats, and the symbols of --symbols or SYMBOLS', async () => {
    const config = await readPaperConfig(
      { ...NATS, NATS_CONSUMER: 'paper-a', SYMBOLS: 'ethusdt', DATABASE_URL: 'postgres://db/x' },
      { nats: 'nats://b:4222' },
    );
    expect(config.bus).toMatchObject({ servers: ['nats://b:4222'], consumer: 'paper-a' });
    expect(config.symbols).toEqual(['ETHUSDT']);
    expect(config.databaseUrl).toBe('postgres://db/x');
    expect(
      (await readPaperConfig({ ...NATS, SYMBOLS: 'A1' }, { symbols: 'btcusdt,BTCUSDT' })).symbols,
    ).toEqual(['BTCUSDT']);
  });

  it.each([
    [{}, {}, 'NATS_URL: expected a nats:// URL'],
    [
      NATS,
      { strategy: 'macd' },
      '--strategy: expected sma, rsi or the path of a strategy module such as ./my-strategy.mjs, got "macd"',
    ],
    [NATS, { strategyOptions: 'fast=1,speed=2' }, '--strategy-options: expected options of sma'],
    [
      { ...NATS, NATS_CONSUMER: 'store' },
      {},
      `NATS_CONSUMER: expected a consumer of paper's own, not the writers' (store); unset it for paper-sma, got "store"`,
    ],
    [NATS, { symbols: '' }, '--symbols: expected a comma-separated list'],
  ])('%j %j fails naming the setting', async (env, flags, message) => {
    await expect(readPaperConfig(env, flags)).rejects.toThrow(message);
  });
});

describe('paperConsumer', () => {
  it('keeps letters, digits, - and _ of the strategy name', () => {
    expect(paperConsumer('sma')).toBe('paper-sma');
    expect(paperConsumer(' mean reversion/v2 ')).toBe('paper-mean-reversion-v2');
    expect(paperConsumer('x'.repeat(300))).toHaveLength(255);
  });
});
