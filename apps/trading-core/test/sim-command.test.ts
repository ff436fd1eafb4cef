import { BinanceTradeClient } from '@trade/exchange-binance';
import type { Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { launch } from './support/app-process.js';

// `trading-core sim` as a process: other clients stream from it and read its REST history.

describe('trading-core sim', () => {
  it('serves the Binance stream and REST shapes until SIGTERM, then exits 0', async () => {
    const run = launch(['sim', '--port', '0', '--rate', '100', '--symbols', 'BTCUSDT,ETHUSDT']);
    try {
      const serving = await run.waitForLog(/^SIMULATED Binance serving /);
      const ws = String(serving.ws);
      const rest = String(serving.rest);
      expect(serving).toMatchObject({ symbols: ['BTCUSDT', 'ETHUSDT'], rate: 100 });

      const client = new BinanceTradeClient({ url: ws, restUrl: rest, symbols: ['BTCUSDT'] });
      const streamed: Tick[] = [];
      for await (const tick of client.ticks()) {
        streamed.push(tick);
        if (streamed.length === 50) break;
      }
      await client.close();

      // The same trades over REST, field by field.
      const first = streamed[0]!.tradeId;
      const response = await fetch(
        `${rest}/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${first}&limit=50`,
      );
      expect(response.status).toBe(200);
      const rows = (await response.json()) as {
        id: number;
        price: string;
        qty: string;
        time: number;
        isBuyerMaker: boolean;
      }[];
      expect(rows.map((r) => [r.id, r.price, r.qty, r.time, r.isBuyerMaker])).toEqual(
        streamed.map((t) => [t.tradeId, t.price, t.quantity, t.tradeTime, t.isBuyerMaker]),
      );
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.logs().some((r) => r.msg === 'simulator stopped')).toBe(true);
  });

  it('names the port when it is taken', async () => {
    const first = launch(['sim', '--port', '0']);
    const serving = await first.waitForLog(/^SIMULATED Binance serving /);
    const port = new URL(String(serving.ws)).port;
    const second = launch(['sim', '--port', port]);
    expect(await second.exited).toBe(1);
    expect(second.output().stderr).toContain(
      `--port: cannot serve on 127.0.0.1:${port} (EADDRINUSE)`,
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});
