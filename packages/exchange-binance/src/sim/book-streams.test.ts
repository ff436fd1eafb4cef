import type { BookTop } from '@trade/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startBinanceSimulator } from './binance-simulator.js';
import type { BinanceSimulator, BinanceSimulatorOptions } from './simulator-types.js';

// The book's streams and REST endpoints over real sockets on loopback, checked
// against the simulator's ground truth.

const sims: BinanceSimulator[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const sim of sims.splice(0)) await sim.close();
});

async function start(options: BinanceSimulatorOptions = {}): Promise<BinanceSimulator> {
  const sim = await startBinanceSimulator({ rate: 0, symbols: ['BTCUSDT', 'ETHUSDT'], ...options });
  sims.push(sim);
  return sim;
}

async function connect(url: string) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  sockets.push(ws);
  const frames: unknown[] = [];
  ws.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames };
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000) {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

type Level = [string, string];
interface DepthEvent {
  e: 'depthUpdate';
  E: number;
  s: string;
  U: number;
  u: number;
  b: Level[];
  a: Level[];
}
interface Snapshot {
  lastUpdateId: number;
  bids: Level[];
  asks: Level[];
}

const data = <T>(frames: unknown[]) => frames.map((f) => (f as { data: T }).data);
const isDepth = (f: unknown) => (f as { data?: { e?: string } }).data?.e === 'depthUpdate';

/**
 * Binance's procedure to keep a local book, as a client writes it: drop the
 * buffered events the snapshot already holds, check the first one applied
 * straddles the snapshot's id, then apply each in turn, refusing a gap.
 */
function syncBook(snapshot: Snapshot, events: readonly DepthEvent[]) {
  const bids = new Map(snapshot.bids);
  const asks = new Map(snapshot.asks);
  let updateId = snapshot.lastUpdateId;
  let first = true;
  for (const event of events) {
    if (event.u <= updateId) continue;
    if (first) {
      expect(event.U).toBeLessThanOrEqual(updateId + 1);
      first = false;
    } else if (event.U > updateId + 1) {
      throw new Error(`gap: U ${event.U} after ${updateId}`);
    }
    for (const [side, levels] of [
      [bids, event.b],
      [asks, event.a],
    ] as const) {
      for (const [price, qty] of levels) {
        if (Number(qty) === 0) side.delete(price);
        else side.set(price, qty);
      }
    }
    updateId = event.u;
  }
  const sorted = (side: Map<string, string>, descending: boolean) =>
    [...side].sort((x, y) => (Number(x[0]) - Number(y[0])) * (descending ? -1 : 1));
  return { updateId, bids: sorted(bids, true), asks: sorted(asks, false) };
}

const whole = (top: BookTop) => ({ updateId: top.updateId, bids: top.bids, asks: top.asks });

describe('the book over real sockets', () => {
  it('sends bookTicker and depth frames in Binance shapes, combined and raw', async () => {
    const sim = await start({ symbols: ['BNBUSDT'] });
    const combined = await connect(
      `${sim.url}/stream?streams=bnbusdt@bookTicker/bnbusdt@depth@100ms`,
    );
    const rawTicker = await connect(`${sim.url}/ws/bnbusdt@bookTicker`);
    const rawDepth = await connect(`${sim.url}/ws/bnbusdt@depth`); // every second
    sim.generate(50);
    await waitFor(() => combined.frames.some(isDepth), 'a depth event');
    await waitFor(() => rawDepth.frames.length > 0, 'a 1 s depth event', 3_000);
    const decimal: unknown = expect.stringMatching(/^\d+\.\d{8}$/);
    const level = [decimal, decimal];

    const ticker = combined.frames.find((f) => !isDepth(f)) as { stream: string; data: object };
    expect(ticker.stream).toBe('bnbusdt@bookTicker');
    expect(Object.keys(ticker.data)).toEqual(['u', 's', 'b', 'B', 'a', 'A']);
    expect(ticker.data).toEqual({
      u: expect.any(Number) as unknown,
      s: 'BNBUSDT',
      b: decimal,
      B: decimal,
      a: decimal,
      A: decimal,
    });
    expect(rawTicker.frames[0]).toEqual(ticker.data);

    const depth = combined.frames.find(isDepth) as { stream: string; data: DepthEvent };
    expect(depth.stream).toBe('bnbusdt@depth@100ms');
    expect(Object.keys(depth.data)).toEqual(['e', 'E', 's', 'U', 'u', 'b', 'a']);
    expect(depth.data).toMatchObject({ e: 'depthUpdate', s: 'BNBUSDT' });
    expect(Math.abs(depth.data.E - Date.now())).toBeLessThan(5_000);
    expect(depth.data.u).toBeGreaterThanOrEqual(depth.data.U);
    for (const l of [...depth.data.b, ...depth.data.a]) expect(l).toEqual(level);
    expect(rawDepth.frames[0]).toMatchObject({ e: 'depthUpdate', s: 'BNBUSDT', U: depth.data.U });
  });

  it('sends every bookTicker the truth holds, and nothing once unsubscribed', async () => {
    const sim = await start({ seed: 4 });
    const { ws, frames } = await connect(`${sim.url}/ws`);
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['BTCUSDT@bookTicker'], id: 1 }));
    await waitFor(() => frames.length === 1, 'the SUBSCRIBE reply');
    expect(frames[0]).toEqual({ result: null, id: 1 });
    sim.generate(300);
    sim.generateBook(300);
    const truth = sim.quoteTruth('BTCUSDT');
    expect(truth.length).toBeGreaterThan(100);
    await waitFor(() => frames.length === 1 + truth.length, 'every bookTicker');
    expect(frames.slice(1)).toEqual(
      truth.map((q) => ({
        u: q.updateId,
        s: q.symbol,
        b: q.bidPrice,
        B: q.bidQty,
        a: q.askPrice,
        A: q.askQty,
      })),
    );
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    await waitFor(() => frames.length === 2 + truth.length, 'the list');
    expect(frames.at(-1)).toEqual({ result: ['btcusdt@bookTicker'], id: 2 });
    ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['btcusdt@bookTicker'], id: 3 }));
    await waitFor(() => frames.length === 3 + truth.length, 'the UNSUBSCRIBE reply');
    sim.generate(100);
    await new Promise((r) => setTimeout(r, 150));
    expect(frames.length).toBe(3 + truth.length);
    expect(sim.quoteTruth('BTCUSDT').length).toBeGreaterThan(truth.length); // the truth goes on
  });

  it('keeps a local book by Binance procedure that equals the truth at the last update id', async () => {
    const sim = await start({ seed: 9 });
    const { ws, frames } = await connect(`${sim.url}/ws`);
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@depth@100ms'], id: 1 }));
    await waitFor(() => frames.length === 1, 'the SUBSCRIBE reply');
    const events = () => frames.slice(1) as DepthEvent[];
    sim.generate(300);
    await waitFor(() => events().length > 0, 'the first event');
    const snapshot = await getJson<Snapshot>(
      `${sim.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5000`,
    );
    expect(snapshot.lastUpdateId).toBeGreaterThanOrEqual(events()[0]!.U);
    for (let round = 0; round < 6; round++) {
      sim.generate(400);
      sim.generateBook(300, 'BTCUSDT');
      await new Promise((r) => setTimeout(r, 40));
    }
    const last = sim.lastUpdateId('BTCUSDT');
    await waitFor(() => events().at(-1)?.u === last, 'the event of the last change');
    for (const [i, event] of events().entries()) {
      expect(event.s).toBe('BTCUSDT');
      if (i > 0) expect(event.U).toBe(events()[i - 1]!.u + 1); // no fault: no gap
    }
    const local = syncBook(snapshot, events());
    expect(local.updateId).toBe(last);
    expect(local).toEqual(whole(sim.bookAt('BTCUSDT', last, 5000)));
    expect(local.bids.length).toBeGreaterThan(100);
    expect(sim.stats()).toMatchObject({ depthSnapshots: 1, depthDiffsDropped: 0 });
  });

  it('drops the depth event asked for: U jumps past the last u + 1 while the truth moves on', async () => {
    const sim = await start({ seed: 2 });
    const { frames } = await connect(`${sim.url}/stream?streams=btcusdt@depth@100ms`);
    const events = () => data<DepthEvent>(frames);
    sim.generate(100);
    await waitFor(() => events().length === 1, 'the first event');
    sim.dropDepthDiff('BTCUSDT');
    sim.generate(100);
    await waitFor(() => sim.stats().depthDiffsDropped === 1, 'the drop');
    sim.generate(100);
    const last = sim.lastUpdateId('BTCUSDT');
    await waitFor(() => events().at(-1)?.u === last, 'the event after the drop');
    const [before, after] = events() as [DepthEvent, DepthEvent];
    expect(events()).toHaveLength(2);
    expect(after.U).toBeGreaterThan(before.u + 1);
    // The changes the client missed are in the truth.
    expect(sim.bookAt('BTCUSDT', before.u + 1, 1).updateId).toBe(before.u + 1);
    // Resynced from a snapshot, the client has the truth again.
    const snapshot = await getJson<Snapshot>(`${sim.restUrl}/api/v3/depth?symbol=BTCUSDT`);
    expect(snapshot.lastUpdateId).toBe(last);
    expect(() => syncBook({ ...snapshot, lastUpdateId: before.u }, [after])).toThrow();
    expect(sim.stats()).toMatchObject({ depthDiffsDropped: 1, depthSnapshots: 1 });
  });

  it('is the same book and the same quotes for the same seed', async () => {
    const run = async (seed: number) => {
      const sim = await start({ seed });
      sim.generate(500);
      sim.generateBook(300, 'ETHUSDT');
      const id = sim.lastUpdateId('ETHUSDT');
      return {
        ids: sim.symbols.map((s) => sim.lastUpdateId(s)),
        quotes: sim.quoteTruth('ETHUSDT'),
        book: sim.bookAt('ETHUSDT', id, 100),
        earlier: sim.bookAt('ETHUSDT', id - 400, 100),
      };
    };
    const a = await run(17);
    expect(await run(17)).toEqual(a);
    expect((await run(18)).quotes).not.toEqual(a.quotes);
  });

  it('serves the rules it was given in exchangeInfo, symbolRules and the book', async () => {
    const sim = await start({
      rules: {
        ethusdt: { tickSize: '0.10', stepSize: '0.001', minQty: '0.001', minNotional: '10' },
      },
    });
    expect(sim.symbolRules('ethusdt')).toEqual({
      symbol: 'ETHUSDT',
      tickSize: '0.10000000',
      stepSize: '0.00100000',
      minQty: '0.00100000',
      minNotional: '10.00000000',
    });
    expect(sim.symbolRules('BTCUSDT').tickSize).toBe('0.01000000');
    const list = encodeURIComponent('["ETHUSDT"]');
    const info = await getJson<{ symbols: { filters: Record<string, unknown>[] }[] }>(
      `${sim.restUrl}/api/v3/exchangeInfo?symbols=${list}`,
    );
    expect(info.symbols).toHaveLength(1);
    expect(info.symbols[0]!.filters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ filterType: 'PRICE_FILTER', tickSize: '0.10000000' }),
        expect.objectContaining({ filterType: 'LOT_SIZE', stepSize: '0.00100000' }),
        expect.objectContaining({ filterType: 'NOTIONAL', minNotional: '10.00000000' }),
      ]),
    );
    sim.generate(200);
    const top = sim.bookAt('ETHUSDT', sim.lastUpdateId('ETHUSDT'), 50);
    for (const [price, qty] of [...top.bids, ...top.asks]) {
      expect(price).toMatch(/^\d+\.\d0000000$/);
      expect(qty).toMatch(/^\d+\.\d{3}00000$/);
    }
    await expect(startBinanceSimulator({ rules: { XRPUSDT: {} } })).rejects.toThrow(/XRPUSDT/);
  });

  it('answers bookAt for old update ids after many changes', async () => {
    const sim = await start({ symbols: ['BTCUSDT'], seed: 5 });
    const first = sim.lastUpdateId('BTCUSDT');
    sim.generateBook(200_000);
    expect(sim.lastUpdateId('BTCUSDT')).toBe(first + 200_000);
    const early = sim.bookAt('BTCUSDT', first + 1, 5);
    expect(early.updateId).toBe(first + 1);
    expect(early.bids).toHaveLength(5);
    expect(() => sim.bookAt('BTCUSDT', first + 200_001)).toThrow();
  });
});
