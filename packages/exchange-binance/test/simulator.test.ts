import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startBinanceSimulator, type BinanceSimulator } from '../src/sim.js';
import { waitFor } from './helpers.js';

const sims: BinanceSimulator[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const sim of sims.splice(0)) await sim.close();
});

async function sim(options: Parameters<typeof startBinanceSimulator>[0] = {}) {
  const s = await startBinanceSimulator({ rate: 0, ...options });
  sims.push(s);
  return s;
}

async function connect(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  sockets.push(ws);
  const messages: string[] = [];
  ws.on('message', (data: Buffer) => messages.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages };
}

describe('Binance simulator', () => {
  it('is deterministic for a seed', async () => {
    const a = await sim({ seed: 42 });
    const b = await sim({ seed: 42 });
    const c = await sim({ seed: 43 });
    for (const s of [a, b, c]) s.generate(200);
    const strip = (s: BinanceSimulator) =>
      s
        .truth('BTCUSDT')
        .map(({ id, price, quantity, isBuyerMaker }) => [id, price, quantity, isBuyerMaker]);
    expect(strip(a)).toEqual(strip(b));
    expect(strip(a)).not.toEqual(strip(c));
    expect(a.truth('BTCUSDT')[0]!.price).toMatch(/^\d+\.\d{8}$/);
  });

  it('serves combined, raw and aggTrade streams', async () => {
    const s = await sim({ symbols: ['BTCUSDT'] });
    const combined = await connect(`${s.url}/stream?streams=btcusdt@trade`);
    const raw = await connect(`${s.url}/ws/btcusdt@trade`);
    const agg = await connect(`${s.url}/stream?streams=btcusdt@aggTrade`);
    s.generate(1);
    await waitFor(
      () => combined.messages.length + raw.messages.length + agg.messages.length === 3,
      'frames',
    );
    const trade = s.truth('BTCUSDT')[0]!;
    expect(JSON.parse(combined.messages[0]!)).toMatchObject({
      stream: 'btcusdt@trade',
      data: {
        e: 'trade',
        s: 'BTCUSDT',
        t: trade.id,
        p: trade.price,
        q: trade.quantity,
        T: trade.time,
      },
    });
    expect(JSON.parse(raw.messages[0]!)).toMatchObject({ e: 'trade', t: trade.id });
    expect(JSON.parse(agg.messages[0]!)).toMatchObject({
      stream: 'btcusdt@aggTrade',
      data: { e: 'aggTrade', a: trade.id, f: trade.id, l: trade.id },
    });
  });

  it('answers SUBSCRIBE, LIST_SUBSCRIPTIONS and UNSUBSCRIBE', async () => {
    const s = await sim({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    const { ws, messages } = await connect(`${s.url}/ws`);
    ws.send(
      JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@trade', 'ethusdt@trade'], id: 1 }),
    );
    ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['ethusdt@trade'], id: 2 }));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 3 }));
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['nope@trade'], id: 4 }));
    await waitFor(() => messages.length === 4, 'replies');
    expect(messages.map((m) => JSON.parse(m) as unknown)).toEqual([
      { result: null, id: 1 },
      { result: null, id: 2 },
      { result: ['btcusdt@trade'], id: 3 },
      { error: { code: 2, msg: 'Invalid stream name: nope@trade' }, id: 4 },
    ]);
  });

  it('drops a connection that sends more than 5 messages a second', async () => {
    const s = await sim();
    const { ws } = await connect(`${s.url}/ws`);
    const closed = new Promise((r) => ws.once('close', r));
    for (let i = 0; i < 6; i++) ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
    await closed;
    expect(s.stats().rateLimitDrops).toBe(1);
  });

  it('refuses more streams than the per-connection limit', async () => {
    const s = await sim({ symbols: ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'], maxStreamsPerConnection: 2 });
    const { ws, messages } = await connect(`${s.url}/stream?streams=btcusdt@trade/ethusdt@trade`);
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['bnbusdt@trade'], id: 9 }));
    await waitFor(() => messages.length === 1, 'reply');
    expect(JSON.parse(messages[0]!)).toMatchObject({ id: 9, error: { code: 2 } });
    expect(s.stats().streamLimitRefusals).toBe(1);
  });

  it('pings, and drops clients that never answer', async () => {
    const s = await sim({ pingIntervalMs: 50, pongTimeoutMs: 200 });
    const polite = await connect(`${s.url}/ws/btcusdt@trade`);
    const pings: number[] = [];
    polite.ws.on('ping', () => pings.push(Date.now()));
    const rude = await connect(`${s.url}/ws/btcusdt@trade`, { autoPong: false });
    const rudeClosed = new Promise((r) => rude.ws.once('close', r));
    await rudeClosed;
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(polite.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.stats().pongTimeouts).toBe(1);
  });

  it('serves historicalTrades, trades and aggTrades over REST', async () => {
    const s = await sim({ symbols: ['BTCUSDT'] });
    s.generate(1500);
    const truth = s.truth('BTCUSDT');
    const get = async (path: string) => {
      const response = await fetch(`${s.restUrl}${path}`);
      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>[],
      };
    };
    const page = await get(
      `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${truth[10]!.id}&limit=1000`,
    );
    expect(page.body.length).toBe(1000);
    expect(page.body[0]).toMatchObject({
      id: truth[10]!.id,
      price: truth[10]!.price,
      qty: truth[10]!.quantity,
      time: truth[10]!.time,
      isBuyerMaker: truth[10]!.isBuyerMaker,
    });
    const recent = await get('/api/v3/trades?symbol=BTCUSDT&limit=5');
    expect(recent.body.map((r) => r.id)).toEqual(truth.slice(-5).map((t) => t.id));
    const agg = await get(`/api/v3/aggTrades?symbol=BTCUSDT&fromId=${truth[0]!.id}&limit=2`);
    expect(agg.body[1]).toMatchObject({ a: truth[1]!.id, p: truth[1]!.price });
    expect((await get('/api/v3/trades?symbol=NOPE&limit=5')).status).toBe(400);
    expect((await get('/api/v3/trades?symbol=BTCUSDT&limit=5000')).status).toBe(400);
  });

  it('answers 429 with Retry-After beyond its REST weight budget', async () => {
    const s = await sim({ symbols: ['BTCUSDT'], restWeightPerMinute: 50 });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${s.restUrl}/api/v3/trades?symbol=BTCUSDT&limit=1`);
      statuses.push(response.status);
      retryAfter = response.headers.get('retry-after');
      await response.text();
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(retryAfter).toBe('60');
  });

  it('generates at a configured rate and as fast as the socket drains', async () => {
    const timed = await sim({ symbols: ['BTCUSDT'], rate: 500 });
    const max = await sim({ symbols: ['BTCUSDT'], rate: 'max' });
    const a = await connect(`${timed.url}/ws/btcusdt@trade`);
    const b = await connect(`${max.url}/ws/btcusdt@trade`);
    await waitFor(() => a.messages.length >= 50 && b.messages.length >= 5000, 'trades');
    const ids = b.messages.slice(0, 5000).map((m) => (JSON.parse(m) as { t: number }).t);
    expect(ids).toEqual(
      max
        .truth('BTCUSDT')
        .slice(0, 5000)
        .map((t) => t.id),
    );
  });

  it('rejects on a port in use and leaves no timer running', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    // The simulator's intervals are unref'd, so process.getActiveResourcesInfo() does not
    // list them; fake intervals are counted whatever their ref state.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const before = vi.getTimerCount();
      await expect(startBinanceSimulator({ port, rate: 0 })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      expect(vi.getTimerCount()).toBe(before);
      // The count does see the simulator's timers when it starts, and their end on close.
      const s = await startBinanceSimulator({ rate: 0 });
      expect(vi.getTimerCount()).toBeGreaterThan(before);
      await s.close();
      expect(vi.getTimerCount()).toBe(before);
    } finally {
      vi.useRealTimers();
      blocker.close();
    }
  });

  it('injects random faults: drop at 60 a minute cuts every connection within seconds', async () => {
    const s = await sim({ symbols: ['BTCUSDT'], faults: { drop: 60 } });
    const { ws } = await connect(`${s.url}/ws/btcusdt@trade`);
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBe(1006); // abnormal: TCP destroyed, no close frame
    expect(s.stats().connectionsAccepted).toBe(1);
  });

  it('logs REST requests with their time and status, and sends the Retry-After it is given', async () => {
    const s = await sim({ symbols: ['BTCUSDT'] });
    s.generate(3);
    s.failRest(1, 418, 120);
    const first = await fetch(`${s.restUrl}/api/v3/trades?symbol=BTCUSDT&limit=1`);
    await first.text();
    expect(first.status).toBe(418);
    expect(first.headers.get('retry-after')).toBe('120');
    const second = await fetch(`${s.restUrl}/api/v3/trades?symbol=BTCUSDT&limit=1`);
    await second.text();
    const log = s.restLog();
    expect(log.map(({ path, status }) => [path, status])).toEqual([
      ['/api/v3/trades?symbol=BTCUSDT&limit=1', 418],
      ['/api/v3/trades?symbol=BTCUSDT&limit=1', 200],
    ]);
    expect(log[1]!.at).toBeGreaterThanOrEqual(log[0]!.at);
  });

  it('refuses REST answers that would show withheld ids, and counts them', async () => {
    const s = await sim({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    s.generate(100);
    const ids = s.truth('BTCUSDT').map((t) => t.id);
    s.refuseHistory('BTCUSDT', ids[40]!, ids[49]!);
    const status = async (path: string) => {
      const response = await fetch(`${s.restUrl}${path}`);
      const body: unknown = await response.json();
      return { status: response.status, rows: Array.isArray(body) ? body.length : 0 };
    };
    const hist = (symbol: string, from: number, limit: number) =>
      status(`/api/v3/historicalTrades?symbol=${symbol}&fromId=${from}&limit=${limit}`);
    expect(await hist('BTCUSDT', ids[0]!, 40)).toEqual({ status: 200, rows: 40 });
    expect(await hist('BTCUSDT', ids[0]!, 41)).toEqual({ status: 503, rows: 0 });
    expect(await hist('BTCUSDT', ids[45]!, 1)).toEqual({ status: 503, rows: 0 });
    expect(await hist('BTCUSDT', ids[49]!, 10)).toEqual({ status: 503, rows: 0 });
    expect(await hist('BTCUSDT', ids[50]!, 10)).toEqual({ status: 200, rows: 10 });
    // Another symbol's same ids are not withheld.
    const eth = s.truth('ETHUSDT').map((t) => t.id);
    expect(await hist('ETHUSDT', eth[0]!, 100)).toEqual({ status: 200, rows: 100 });
    expect(await status(`/api/v3/aggTrades?symbol=BTCUSDT&fromId=${ids[30]!}&limit=20`)).toEqual({
      status: 503,
      rows: 0,
    });
    // `trades` (the newest) is refused only while the window reaches the withheld ids.
    expect(await status('/api/v3/trades?symbol=BTCUSDT&limit=50')).toEqual({
      status: 200,
      rows: 50,
    });
    expect(await status('/api/v3/trades?symbol=BTCUSDT&limit=51')).toEqual({
      status: 503,
      rows: 0,
    });
    expect(s.stats().restWithheld).toBe(5);
    expect(s.restLog().filter((e) => e.status === 503)).toHaveLength(5);
    expect(() => s.refuseHistory('BTCUSDT', 10, 5)).toThrow();
  });

  it('answers upgrades past the attempt limit with 429 and a Retry-After', async () => {
    const s = await sim({ symbols: ['BTCUSDT'], maxConnectionAttempts: 2 });
    await connect(`${s.url}/ws/btcusdt@trade`);
    await connect(`${s.url}/ws/btcusdt@trade`);
    const refused = await upgrade(`${s.url}/ws/btcusdt@trade`);
    expect(refused.status).toBe(429);
    // Both earlier attempts stay in the 5-minute window for about 300 s more.
    expect(Number(refused.retryAfter)).toBeGreaterThan(290);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(300);
    expect(s.upgradeLog().map((e) => e.status)).toEqual([101, 101, 429]);
  });

  it('refuses upgrades for a while with the status and Retry-After asked for', async () => {
    const s = await sim({ symbols: ['BTCUSDT'] });
    s.refuseConnections(60_000);
    expect(await upgrade(`${s.url}/ws/btcusdt@trade`)).toEqual({ status: 503, retryAfter: null });
    s.refuseConnections(60_000, { status: 429, retryAfterSeconds: 7 });
    expect(await upgrade(`${s.url}/ws/btcusdt@trade`)).toEqual({ status: 429, retryAfter: '7' });
    s.refuseConnections(0);
    await connect(`${s.url}/ws/btcusdt@trade`);
    expect(s.stats().connectionsRefused).toBe(2);
  });

  it('sends a bogus trade frame that is in neither the ground truth nor REST', async () => {
    const s = await sim({ symbols: ['BTCUSDT'] });
    s.generate(3);
    const c = await connect(`${s.url}/stream?streams=btcusdt@trade`);
    s.bogusTrade('BTCUSDT', Number.MAX_SAFE_INTEGER);
    await waitFor(() => c.messages.length === 1, 'the frame');
    expect(JSON.parse(c.messages[0]!)).toMatchObject({
      stream: 'btcusdt@trade',
      data: { e: 'trade', s: 'BTCUSDT', t: Number.MAX_SAFE_INTEGER },
    });
    expect(s.truth('BTCUSDT')).toHaveLength(3);
    const recent = (await (
      await fetch(`${s.restUrl}/api/v3/trades?symbol=BTCUSDT&limit=1`)
    ).json()) as { id: number }[];
    expect(recent.map((r) => r.id)).toEqual([s.lastTradeId('BTCUSDT')]);
    expect(() => s.bogusTrade('BTCUSDT', -1)).toThrow();
  });

  it('tells each REST lie once per request it was asked for, then answers honestly', async () => {
    const s = await sim({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    s.generate(20);
    const ids = s.truth('BTCUSDT').map((t) => t.id);
    const hist = async () => {
      const response = await fetch(
        `${s.restUrl}/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${ids[5]!}&limit=4`,
      );
      const text = await response.text();
      return { bytes: text.length, rows: JSON.parse(text) as Record<string, unknown>[] };
    };
    s.lieRest(1, 'too_many_rows');
    expect((await hist()).rows.map((r) => r.id)).toEqual(
      Array.from({ length: 8 }, (_, i) => ids[5]! + i),
    );
    s.lieRest(1, 'ids_out_of_range');
    expect((await hist()).rows.map((r) => r.id)).toEqual(ids.slice(9, 13));
    s.lieRest(1, 'wrong_symbol');
    const eth = s.truth('ETHUSDT');
    expect((await hist()).rows.map((r) => [r.id, r.price, r.symbol])).toEqual(
      eth.slice(5, 9).map((t) => [t.id, t.price, 'ETHUSDT']),
    );
    s.lieRest(1, 'huge_body');
    const huge = await hist();
    expect(huge.rows.map((r) => r.id)).toEqual(ids.slice(5, 9));
    expect(huge.bytes).toBeGreaterThan(8 << 20);
    const honest = await hist();
    expect(honest.rows.map((r) => r.id)).toEqual(ids.slice(5, 9));
    expect(honest.rows[0]).not.toHaveProperty('symbol');
    expect(s.stats().restLies).toBe(4);
    expect(() => s.lieRest(1, 'nonsense' as never)).toThrow();
  });

  it('answers from fromId within [fromId, fromId + limit) when older history is gone', async () => {
    const s = await sim({ symbols: ['BTCUSDT'], retain: 10 });
    s.generate(30);
    const oldest = s.truth('BTCUSDT')[0]!.id; // the 21st generated
    const rows = async (from: number, limit: number) => {
      const path = `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${from}&limit=${limit}`;
      const body = (await (await fetch(s.restUrl + path)).json()) as { id: number }[];
      return body.map((r) => r.id);
    };
    expect(await rows(oldest - 20, 10)).toEqual([]);
    expect(await rows(oldest - 5, 10)).toEqual([0, 1, 2, 3, 4].map((i) => oldest + i));
  });

  it('holds REST answers while hanging, with or without the headers sent', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const s = await sim({ symbols: ['BTCUSDT'] });
    s.generate(2);
    const path = '/api/v3/trades?symbol=BTCUSDT&limit=1';
    s.hangRest(5_000);
    let answered = false;
    const silent = fetch(s.restUrl + path).then(async (r) => {
      answered = true;
      return (await r.json()) as unknown[];
    });
    await pollLoop(() => s.stats().restHung === 1);
    expect(answered).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect(await silent).toHaveLength(1);
    s.hangRest(5_000, { afterHeaders: true });
    const response = await fetch(s.restUrl + path);
    expect(response.status).toBe(200);
    let body = '';
    const reading = response.text().then((text) => (body = text));
    let turns = 0;
    await pollLoop(() => ++turns > 200); // time for a body that would come at once
    expect(body).toBe('');
    expect(s.stats().restHung).toBe(2);
    vi.advanceTimersByTime(5_000);
    await reading;
    expect(JSON.parse(body)).toHaveLength(1);
  });
});

/** Sends a WebSocket upgrade request and returns the HTTP answer when it is not 101. */
function upgrade(wsUrl: string): Promise<{ status: number; retryAfter: string | null }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    sockets.push(ws);
    ws.once('open', () => reject(new Error('upgrade accepted')));
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] ?? null });
      req.destroy();
    });
  });
}

/** Polls on the event loop itself (setImmediate), for tests that fake the timers. */
async function pollLoop(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  if (!predicate()) throw new Error('condition not reached');
}
