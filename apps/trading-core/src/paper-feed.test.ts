import { createTick, type Tick } from '@trade/core';
import { PaperEngine, smaCrossover } from '@trade/paper-engine';
import { describe, expect, it } from 'vitest';
import { PaperFeed } from './paper-feed.js';

const tick = (symbol: string, tradeId: number, price = '100'): Tick =>
  createTick({
    symbol,
    tradeId,
    price,
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: 1_700_000_000_000 + tradeId,
  });

/** An engine whose warm-up reads from `cached`, recording which symbols were asked for. */
function engineWith(cached: readonly Tick[]) {
  const asked: string[] = [];
  const engine = new PaperEngine({
    strategy: smaCrossover({ fast: 2, slow: 3 }),
    recentTicks: {
      recent: (symbol) => {
        asked.push(symbol);
        return Promise.resolve(cached.filter((t) => t.symbol === symbol));
      },
    },
  });
  return { engine, asked };
}

describe('PaperFeed', () => {
  it('hands the engine the ticks of the symbols traded and passes over the others', async () => {
    const { engine } = engineWith([]);
    const feed = new PaperFeed(engine, ['BTCUSDT']);
    await feed.take([tick('BTCUSDT', 1), tick('ETHUSDT', 1), tick('BTCUSDT', 2)]);
    expect(feed.stats()).toEqual({ traded: 2, skipped: 1 });
    expect(engine.state().ticksProcessed).toBe(2);
  });

  it('trades every symbol when none are named', async () => {
    const { engine } = engineWith([]);
    const feed = new PaperFeed(engine, undefined);
    await feed.take([tick('BTCUSDT', 1), tick('ETHUSDT', 1)]);
    expect(feed.stats()).toEqual({ traded: 2, skipped: 0 });
  });

  it('warms a symbol up once, when first seen, unless it was at start', async () => {
    const cached = [tick('ETHUSDT', 5), tick('ETHUSDT', 6)];
    const { engine, asked } = engineWith(cached);
    const feed = new PaperFeed(engine, undefined, ['BTCUSDT']);
    await feed.take([tick('BTCUSDT', 1), tick('ETHUSDT', 6), tick('ETHUSDT', 7)]);
    await feed.take([tick('ETHUSDT', 8)]);
    expect(asked).toEqual(['ETHUSDT']);
    // The cached ticks were the warm-up: the one already seen there is not traded again.
    expect(engine.state()).toMatchObject({ ticksProcessed: 3, ticksSkipped: 1 });
  });
});
