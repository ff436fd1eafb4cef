import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { silentLogger } from '@trade/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RefuseConnectionsOptions } from '../src/sim/fault-injector.js';
import { Market } from '../src/sim/market.js';
import { TimerSet } from '../src/sim/timer-set.js';
import { StreamServer, type StreamServerOptions } from '../src/sim/ws-server.js';
import { waitFor } from './helpers.js';

// The simulator's WebSocket side alone: a StreamServer on a bare HTTP server,
// fed trades by hand, with no generation, REST or fault injector around it.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: Partial<StreamServerOptions> = {}) {
  const market = new Market({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 4, retain: 100 });
  const timers = new TimerSet();
  let refusal: RefuseConnectionsOptions | undefined;
  let writable = 0;
  const streams = new StreamServer({
    market,
    now: Date.now,
    logger: silentLogger,
    later: (ms, fn) => timers.later(ms, fn),
    pongTimeoutMs: 60_000,
    maxConnectionAgeMs: 3_600_000,
    maxIncomingPerSecond: 5,
    maxStreamsPerConnection: 1024,
    maxConnectionAttempts: 300,
    refusal: () => refusal,
    onWritable: () => void writable++,
    ...options,
  });
  const server: Server = createServer((_, response) => response.end());
  server.on('upgrade', (request, socket: Socket) => streams.upgrade(request, socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    timers.clear();
    streams.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    market,
    streams,
    url,
    refuse: (r: RefuseConnectionsOptions | undefined) => (refusal = r),
    writable: () => writable,
  };
}

async function connect(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  cleanups.push(() => ws.terminate());
  const messages: string[] = [];
  ws.on('message', (data: Buffer) => messages.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages };
}

function upgradeStatus(url: string): Promise<{ status: number; retryAfter: string | null }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    cleanups.push(() => ws.terminate());
    ws.once('open', () => reject(new Error('upgrade accepted')));
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (request, response) => {
      resolve({
        status: response.statusCode ?? 0,
        retryAfter: response.headers['retry-after'] ?? null,
      });
      request.destroy();
    });
  });
}

describe('StreamServer', () => {
  it('sends the trades it is given to the connections subscribed, combined or raw', async () => {
    const { market, streams, url, writable } = await start();
    const combined = await connect(`${url}/stream?streams=btcusdt@trade/ethusdt@aggTrade/tag`);
    const raw = await connect(`${url}/ws/ethusdt@aggTrade`);
    expect(streams.list().map((c) => [c.path, c.streams])).toEqual([
      ['/stream', ['btcusdt@trade', 'ethusdt@aggTrade']],
      ['/ws/ethusdt@aggTrade', ['ethusdt@aggTrade']],
    ]);
    expect(writable()).toBe(2); // each new connection may take trades
    const [btc, eth] = market.symbols;
    streams.broadcast(btc!, market.trade(btc!, 1_000));
    streams.broadcast(eth!, market.trade(eth!, 2_000));
    streams.flushAll();
    await waitFor(() => combined.messages.length === 2 && raw.messages.length === 1, 'frames');
    const ethTrade = market.truth('ETHUSDT')[0]!;
    expect(JSON.parse(combined.messages[0]!)).toMatchObject({
      stream: 'btcusdt@trade',
      data: { e: 'trade', s: 'BTCUSDT', t: market.lastTradeId('BTCUSDT'), T: 1_000 },
    });
    expect(JSON.parse(raw.messages[0]!)).toEqual({
      e: 'aggTrade',
      E: 2_000,
      s: 'ETHUSDT',
      a: ethTrade.id,
      p: ethTrade.price,
      q: ethTrade.quantity,
      f: ethTrade.id,
      l: ethTrade.id,
      T: 2_000,
      m: ethTrade.isBuyerMaker,
      M: true,
    });
    expect(streams.stats().framesSent).toBe(3);
    expect(streams.canTakeTrades(Date.now())).toBe(true);
  });

  it('speaks the subscription protocol and tells its owner of each SUBSCRIBE', async () => {
    const { streams, url, writable } = await start();
    const { ws, messages } = await connect(`${url}/ws`);
    expect(streams.canTakeTrades(Date.now())).toBe(false); // subscribed to nothing yet
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 1 }));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    await waitFor(() => messages.length === 2, 'replies');
    expect(messages).toEqual(['{"result":null,"id":1}', '{"result":["btcusdt@trade"],"id":2}']);
    expect(writable()).toBe(2); // the connection, then the SUBSCRIBE
    expect(streams.canTakeTrades(Date.now())).toBe(true);
  });

  it('refuses upgrades its owner refuses, past the attempt limit, and to unknown paths', async () => {
    const { url, refuse, streams } = await start({ maxConnectionAttempts: 3 });
    refuse({ status: 429, retryAfterSeconds: 4 });
    expect(await upgradeStatus(`${url}/ws`)).toEqual({ status: 429, retryAfter: '4' });
    refuse(undefined);
    expect(await upgradeStatus(`${url}/nope`)).toEqual({ status: 404, retryAfter: null });
    await connect(`${url}/ws`);
    const limited = await upgradeStatus(`${url}/ws`);
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(290);
    expect(streams.upgradeLog().map((e) => e.status)).toEqual([429, 404, 101, 429]);
    expect(streams.stats()).toMatchObject({ connectionsAccepted: 1, connectionsRefused: 3 });
  });

  it('drops a connection sending more than its messages per second', async () => {
    const { url, streams } = await start({ maxIncomingPerSecond: 2 });
    const { ws } = await connect(`${url}/ws`);
    const closed = new Promise((resolve) => ws.once('close', resolve));
    for (let i = 0; i < 3; i++) ws.send('{"method":"LIST_SUBSCRIPTIONS"}');
    await closed;
    expect(streams.stats().rateLimitDrops).toBe(1);
  });

  it('pings, and housekeeping drops the connections whose pongs stopped', async () => {
    const { url, streams } = await start({ pongTimeoutMs: 100 });
    const polite = await connect(`${url}/ws`);
    const rude = await connect(`${url}/ws`, { autoPong: false });
    let pings = 0;
    polite.ws.on('ping', () => pings++);
    const rudeClosed = new Promise((resolve) => rude.ws.once('close', resolve));
    for (let i = 0; i < 4; i++) {
      streams.ping();
      await new Promise((resolve) => setTimeout(resolve, 50));
      streams.housekeeping();
    }
    await rudeClosed;
    expect(pings).toBe(4);
    expect(polite.ws.readyState).toBe(WebSocket.OPEN);
    expect(streams.stats().pongTimeouts).toBe(1);
  });

  it('closes connections at their maximum age with a close frame', async () => {
    const { url, streams } = await start({ maxConnectionAgeMs: 0 });
    const { ws } = await connect(`${url}/ws`);
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason: Buffer) => resolve([code, reason.toString()])),
    );
    streams.housekeeping();
    expect(await closed).toEqual([1000, 'connection lifetime reached']);
  });

  it('silences, sends to each, shuts down and drops connections when asked', async () => {
    const { market, streams, url } = await start();
    const a = await connect(`${url}/stream?streams=btcusdt@trade`);
    const btc = market.symbols[0]!;
    streams.silence(Date.now() + 60_000);
    streams.broadcast(btc, market.trade(btc, 1));
    streams.flushAll();
    expect(streams.canTakeTrades(Date.now())).toBe(false);
    streams.silence(0);
    streams.sendEach(({ combined }) => (combined ? 'combined' : 'raw'));
    streams.shutdown(10);
    const closed = new Promise<number>((resolve) => a.ws.once('close', resolve));
    expect(await closed).toBe(1001);
    expect(a.messages[0]).toBe('combined'); // the silenced trade never left
    expect(JSON.parse(a.messages[1]!)).toMatchObject({ e: 'serverShutdown' });
    const b = await connect(`${url}/ws`);
    const dropped = new Promise<number>((resolve) => b.ws.once('close', resolve));
    streams.dropAll();
    expect(await dropped).toBe(1006);
    await waitFor(() => streams.openConnections === 0, 'the connections to go');
    expect(streams.stats().peakConnections).toBe(1);
  });

  it('refuses upgrades once closed', async () => {
    const { url, streams } = await start();
    streams.close();
    expect(await upgradeStatus(`${url}/ws`)).toEqual({ status: 503, retryAfter: null });
  });
});
