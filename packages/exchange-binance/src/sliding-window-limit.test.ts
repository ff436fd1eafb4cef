import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindowLimit } from './sliding-window-limit.js';
import { BinanceTradeClient } from './binance-trade-client.js';
import { ControlQueue } from './control-queue.js';

describe('SlidingWindowLimit', () => {
  it('allows 300 attempts per 5 minutes and says how long to wait for the next', () => {
    const limit = new SlidingWindowLimit(300, 300_000);
    for (let i = 0; i < 300; i++) {
      expect(limit.delay(i * 100)).toBe(0);
      limit.record(i * 100);
    }
    expect(limit.delay(30_000)).toBe(270_000);
    expect(limit.delay(300_000)).toBe(0);
  });
});

describe('with fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ControlQueue spaces messages evenly, 4 a second, in order', async () => {
    const queue = new ControlQueue(4);
    const sent: [number, number][] = [];
    for (let i = 0; i < 10; i++) queue.send(() => sent.push([i, Date.now() - 1_000_000]));
    expect(sent).toEqual([[0, 0]]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(sent.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sent.map(([, at]) => at)).toEqual([
      0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250,
    ]);
  });

  /** A socket that never connects (refused) or opens on demand. */
  function fakeSocketClass(behaviour: { open: boolean }) {
    const created: { at: number; socket: EventEmitter & { url: string } }[] = [];
    class FakeWebSocket extends EventEmitter {
      readyState = 0;
      constructor(readonly url: string) {
        super();
        created.push({ at: Date.now(), socket: this });
        queueMicrotask(() => {
          if (behaviour.open) {
            this.readyState = 1;
            this.emit('open');
          } else {
            this.readyState = 3;
            this.emit('error', new Error('ECONNREFUSED'));
            this.emit('close', 1006, Buffer.alloc(0));
          }
        });
      }
      drop() {
        this.readyState = 3;
        this.emit('close', 1006, Buffer.alloc(0));
      }
      close() {
        this.drop();
      }
      terminate() {
        this.drop();
      }
      pause() {}
      resume() {}
      ping() {}
      pong() {}
      send() {}
    }
    return { FakeWebSocket, created };
  }

  function client(FakeWebSocket: unknown, extra = {}) {
    return new BinanceTradeClient({
      url: 'ws://127.0.0.1:1',
      restUrl: 'http://127.0.0.1:1',
      symbols: ['BTCUSDT'],
      random: () => 0,
      WebSocket: FakeWebSocket as never,
      ...extra,
    });
  }

  it('reconnects after 250 ms doubling to 30 s while the server refuses', async () => {
    const { FakeWebSocket, created } = fakeSocketClass({ open: false });
    const c = client(FakeWebSocket);
    c.start();
    await vi.advanceTimersByTimeAsync(200_000);
    const gaps = created.slice(1, 12).map((s, i) => s.at - created[i]!.at);
    expect(gaps).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    await c.close();
  });

  it('resets the backoff once a connection has been stable', async () => {
    const behaviour = { open: false };
    const { FakeWebSocket, created } = fakeSocketClass(behaviour);
    const c = client(FakeWebSocket, { stableAfterMs: 10_000, watchdogMs: 1e9 });
    c.start();
    await vi.advanceTimersByTimeAsync(3_000); // attempts at 0, 250, 750, 1750
    expect(created.length).toBe(4);
    behaviour.open = true;
    await vi.advanceTimersByTimeAsync(2_000); // 5th attempt at 3750 opens
    expect(created.length).toBe(5);
    await vi.advanceTimersByTimeAsync(10_000); // stable
    (created.at(-1)!.socket as unknown as { drop(): void }).drop();
    const droppedAt = Date.now();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(created.length).toBe(6);
    expect(created.at(-1)!.at - droppedAt).toBe(250);
    await c.close();
  });

  it('never exceeds the connection-attempt limit', async () => {
    const { FakeWebSocket, created } = fakeSocketClass({ open: false });
    const c = client(FakeWebSocket, {
      maxConnectionAttempts: 5,
      backoff: { initialMs: 10, maxMs: 10 },
    });
    c.start();
    await vi.advanceTimersByTimeAsync(299_000);
    expect(created.length).toBe(5);
    // The first attempts leave the 5-minute window and as many new ones go.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(created.length).toBe(10);
    const inAnyWindow = created.map(
      (s) => created.filter((o) => o.at >= s.at && o.at < s.at + 300_000).length,
    );
    expect(Math.max(...inAnyWindow)).toBeLessThanOrEqual(5);
    await c.close();
  });

  it('replaces a connection when no frame arrives for watchdogMs, pinging first', async () => {
    const { FakeWebSocket, created } = fakeSocketClass({ open: true });
    const pings: number[] = [];
    FakeWebSocket.prototype.ping = () => pings.push(Date.now());
    const c = client(FakeWebSocket, { watchdogMs: 8_000, idlePingMs: 3_000 });
    c.start();
    await vi.advanceTimersByTimeAsync(7_000);
    expect(created.length).toBe(1);
    expect(pings.length).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(created.length).toBe(2);
    await c.close();
  });
});
