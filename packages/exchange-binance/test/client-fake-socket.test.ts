import { silentLogger } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BinanceTradeClient, type BinanceTradeClientOptions } from '../src/index.js';
import { fakeWebSockets } from './fake-web-socket.js';
import { counterValue } from './helpers.js';

const noRest: typeof fetch = () => Promise.reject(new Error('no REST in this test'));

function client(options: Partial<BinanceTradeClientOptions> = {}) {
  const fake = fakeWebSockets();
  const c = new BinanceTradeClient({
    url: 'ws://fake.invalid',
    restUrl: 'http://fake.invalid',
    symbols: ['BTCUSDT'],
    WebSocket: fake.WebSocket,
    fetch: noRest,
    logger: silentLogger,
    ...options,
  });
  return { client: c, sockets: fake.sockets };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BinanceTradeClient with a socket the test drives', () => {
  it('counts no silence while paused, and restarts the silence clock on resume', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    });
    const { client: c, sockets } = client({
      maxBufferedEvents: 3,
      watchdogMs: 1_000,
      idlePingMs: 300,
    });
    const events = c[Symbol.asyncIterator]();
    const ws = sockets[0]!;
    ws.open();
    for (let id = 1; id <= 5; id++) ws.trade('BTCUSDT', id);
    expect(ws.paused).toBe(true);

    vi.advanceTimersByTime(10_000); // ten watchdog periods, paused
    expect(ws.terminated).toBe(false);
    expect(ws.pings).toBe(0);

    // Reading the buffer resumes the socket; the clock starts from the resume.
    for (let i = 0; i < 7; i++) await events.next(); // 'connecting', 'open', 5 ticks
    expect(ws.paused).toBe(false);
    vi.advanceTimersByTime(250);
    expect(ws.terminated).toBe(false);
    expect(ws.pings).toBe(0);
    // It runs again: an idle ping, then the watchdog.
    vi.advanceTimersByTime(300);
    expect(ws.pings).toBe(1);
    expect(ws.terminated).toBe(false);
    vi.advanceTimersByTime(500);
    expect(ws.terminated).toBe(true);
    expect(c.stats().connectionAttempts).toBe(1); // the replacement waits for its backoff
    await c.close();
  });

  it('ignores frames, pings and pongs that arrive between close() and the close handshake', async () => {
    let now = 1_000_000;
    const metrics = createTradingMetrics({
      registry: new Registry(),
      runtimeMetrics: false,
      now: () => now,
    });
    const { client: c, sockets } = client({ metrics, now: () => now });
    const ticks: number[] = [];
    const done = (async () => {
      for await (const tick of c.ticks()) ticks.push(tick.tradeId);
    })();
    const ws = sockets[0]!;
    ws.open();
    for (let id = 1; id <= 3; id++) ws.trade('BTCUSDT', id);
    await new Promise((resolve) => setImmediate(resolve));
    const closing = c.close();
    const { bufferedEvents: _before, ...stats } = c.stats();
    now += 5_000;
    ws.trade('BTCUSDT', 4);
    ws.emit('ping', Buffer.from('x'));
    ws.emit('pong', Buffer.alloc(0));
    ws.closed();
    await closing;
    await done;
    expect(ticks).toEqual([1, 2, 3]);
    expect(c.positions()).toEqual({ BTCUSDT: 3 });
    const { bufferedEvents: _after, ...after } = c.stats();
    expect(after).toEqual(stats);
    expect(await counterValue(metrics, 'ticksReceived')).toBe(3);
    expect(ws.pongs).toBe(0);
    // The last message seen is still the one before close(): 5 s old.
    expect(await metrics.registry.metrics()).toContain('trading_ws_last_message_age_seconds 5\n');
  });
});
