import { describe, expect, it } from 'vitest';
import { startBinanceTradeClient } from './start-binance-trade-client.js';

describe('startBinanceTradeClient', () => {
  it('rejects a bad option with a ConfigError naming it, before any connection', async () => {
    await expect(
      startBinanceTradeClient({
        url: 'ws://127.0.0.1:9',
        restUrl: 'http://127.0.0.1:9',
        symbols: [],
      }),
    ).rejects.toThrow(/symbols/);
  });

  it('resolves with a started client that close() releases', async () => {
    const client = await startBinanceTradeClient({
      url: 'ws://127.0.0.1:9',
      restUrl: 'http://127.0.0.1:9',
      symbols: ['BTCUSDT'],
    });
    expect(client.symbols).toEqual(['BTCUSDT']);
    await client.close();
    // Closed: the iterator ends (after the events already queued) instead of waiting for more.
    const events: string[] = [];
    for await (const event of client) events.push(event.type);
    expect(events.every((type) => type === 'connection')).toBe(true);
  });
});
