import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tick } from '@trade/core';
import { BinanceTradeClient } from '@trade/exchange-binance';
import { createTradingMetrics } from '@trade/metrics';
import { WebsocketClient } from 'binance';
import ccxt from 'ccxt';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { median, type BenchSuite, type Figure } from '../harness.js';

// Client ingest rate from the Binance simulator over loopback. The simulator
// runs in a child process ('max' rate: it writes as fast as the socket
// drains), so this process's CPU time is the client's alone. Every contender
// reads the same two trade streams in the same run, in rotating order.

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const WARMUP_MS = Number(process.env.BENCH_BINANCE_WARMUP_MS ?? 1_000);
const MEASURE_MS = Number(process.env.BENCH_BINANCE_MEASURE_MS ?? 3_000);
const ROUNDS = Number(process.env.BENCH_BINANCE_ROUNDS ?? 5);

interface Sim {
  url: string;
  restUrl: string;
  child: ChildProcess;
}

async function startSimProcess(): Promise<Sim> {
  const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const code = `
    const { startBinanceSimulator } = await import('@trade/exchange-binance/sim');
    const sim = await startBinanceSimulator({ rate: 'max', symbols: ${JSON.stringify(SYMBOLS)}, retain: 200000, seed: 1, bookUpdatesPerTrade: 0 });
    process.stdout.write(JSON.stringify({ url: sim.url, restUrl: sim.restUrl }) + '\\n');
    process.stdin.on('end', () => sim.close().then(() => process.exit(0)));
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: benchDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const { url, restUrl } = JSON.parse(line) as { url: string; restUrl: string };
  return { url, restUrl, child };
}

/** A running contender: counts delivered trades; `check` reports order/loss problems. */
interface Contender {
  count(): number;
  stop(): Promise<void>;
  check?(): string;
}

interface Measurement {
  rate: number;
  cpuUsPerTrade: number;
  note: string;
}

async function measure(start: () => Promise<Contender>): Promise<Measurement> {
  const contender = await start();
  await sleep(WARMUP_MS);
  const n0 = contender.count();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(MEASURE_MS);
  const n1 = contender.count();
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await contender.stop();
  const trades = n1 - n0;
  return {
    rate: trades / seconds,
    cpuUsPerTrade: (cpu.user + cpu.system) / trades,
    note: contender.check?.() ?? '',
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const streamsPath = SYMBOLS.map((s) => `${s.toLowerCase()}@trade`).join('/');

/** The naive ceiling: ws + JSON.parse + a plain object, nothing checked. */
function rawClient(sim: Sim) {
  return async (): Promise<Contender> => {
    let n = 0;
    let last: unknown;
    const ws = new WebSocket(`${sim.url}/stream?streams=${streamsPath}`, {
      perMessageDeflate: false,
    });
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data as unknown as string) as {
        data: { s: string; t: number; p: string; q: string; m: boolean; T: number };
      };
      const d = frame.data;
      last = {
        symbol: d.s,
        tradeId: d.t,
        price: d.p,
        quantity: d.q,
        side: d.m ? 'SELL' : 'BUY',
        isBuyerMaker: d.m,
        tradeTime: d.T,
        receiveTime: Date.now(),
      };
      n++;
    });
    await new Promise((r) => ws.once('open', r));
    return {
      count: () => (last === undefined ? 0 : n),
      stop: () =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close();
        }),
    };
  };
}

/** Ours: validated, sequenced, each trade once, through the async iterator, with metrics. */
function ourClient(sim: Sim) {
  return async (): Promise<Contender> => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const client = new BinanceTradeClient({
      url: sim.url,
      restUrl: sim.restUrl,
      symbols: SYMBOLS,
      metrics,
    });
    let n = 0;
    const lastId = new Map<string, number>();
    let outOfOrder = 0;
    let last: Tick | undefined;
    const done = (async () => {
      for await (const event of client) {
        if (event.type !== 'tick') continue;
        const tick = event.tick;
        const previous = lastId.get(tick.symbol);
        if (previous !== undefined && tick.tradeId !== previous + 1) outOfOrder++;
        lastId.set(tick.symbol, tick.tradeId);
        last = tick;
        n++;
      }
    })();
    while (n === 0) await sleep(5);
    return {
      count: () => (last === undefined ? 0 : n),
      stop: async () => {
        await client.close();
        await done;
      },
      check: () => {
        const s = client.stats();
        return `${outOfOrder} out of order, ${s.tradesMissed} missed, ${s.tradesBackfilled} backfilled, ${s.fastPathFrames}/${s.frames} fast-path`;
      },
    };
  };
}

/** The `binance` package's WebsocketClient, wsUrl pointed at the simulator. */
function binancePackage(sim: Sim) {
  return async (): Promise<Contender> => {
    let n = 0;
    const silent = { trace: () => {}, info: () => {}, error: () => {} };
    const client = new WebsocketClient({ wsUrl: sim.url, beautify: false }, silent);
    client.on('message', () => {
      n++;
    });
    await client.subscribe(
      SYMBOLS.map((s) => `${s.toLowerCase()}@trade`),
      'main',
    );
    while (n === 0) await sleep(5);
    return {
      count: () => n,
      stop: async () => {
        client.closeAll(false);
        await sleep(100);
      },
    };
  };
}

/** ccxt pro watchTradesForSymbols, ws and REST URLs pointed at the simulator. */
function ccxtPro(sim: Sim) {
  return async (): Promise<Contender> => {
    const exchange = new ccxt.pro.binance({
      urls: {
        api: {
          ws: { spot: `${sim.url}/ws`, margin: `${sim.url}/ws` },
          public: `${sim.restUrl}/api/v3`,
          v3: `${sim.restUrl}/api/v3`,
        },
      },
      options: { defaultType: 'spot' },
    });
    await exchange.loadHttpProxyAgent();
    exchange.setMarkets(
      SYMBOLS.map((id) => {
        const base = id.slice(0, -4);
        return {
          id,
          lowercaseId: id.toLowerCase(),
          symbol: `${base}/USDT`,
          base,
          quote: 'USDT',
          baseId: base,
          quoteId: 'USDT',
          type: 'spot',
          spot: true,
          margin: false,
          swap: false,
          future: false,
          option: false,
          contract: false,
          linear: undefined,
          inverse: undefined,
          active: true,
          precision: { amount: 1e-8, price: 0.01 },
          limits: {},
          info: {},
        };
      }),
    );
    let n = 0;
    let running = true;
    let ids = new Map<string, number>();
    let skipped = 0;
    const loop = (async () => {
      while (running) {
        const trades = await exchange.watchTradesForSymbols(['BTC/USDT', 'ETH/USDT']);
        for (const trade of trades) {
          const id = Number(trade.id);
          const previous = ids.get(trade.symbol!);
          if (previous !== undefined && id > previous + 1) skipped += id - previous - 1;
          if (previous === undefined || id > previous) ids.set(trade.symbol!, id);
          n++;
        }
      }
    })().catch(() => undefined);
    while (n === 0) await sleep(5);
    return {
      count: () => n,
      stop: async () => {
        running = false;
        await exchange.close();
        await loop;
        ids = new Map();
      },
      check: () => `${skipped} trades skipped (stranded or evicted from its cache)`,
    };
  };
}

export const suite: BenchSuite = {
  name: 'exchange-binance',
  async run() {
    const sim = await startSimProcess();
    const contenders: [string, (sim: Sim) => () => Promise<Contender>][] = [
      ['raw ws + JSON.parse', rawClient],
      ['@trade/exchange-binance', ourClient],
      ['binance package WebsocketClient', binancePackage],
      ['ccxt pro watchTradesForSymbols', ccxtPro],
    ];
    const results = new Map<string, Measurement[]>(contenders.map(([name]) => [name, []]));
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order so no contender always runs first (JIT, GC, sim state).
        for (let i = 0; i < contenders.length; i++) {
          const [name, make] = contenders[(i + round) % contenders.length]!;
          try {
            results.get(name)!.push(await measure(make(sim)));
          } catch (error) {
            console.error(`  ${name} failed: ${String(error)}`);
          }
        }
      }
    } finally {
      sim.child.stdin!.end();
      await new Promise((r) => sim.child.once('exit', r));
    }

    const summary = (name: string) => {
      const runs = results.get(name)!;
      return {
        rate: runs.length ? median(runs.map((r) => r.rate)) : NaN,
        cpu: runs.length ? median(runs.map((r) => r.cpuUsPerTrade)) : NaN,
        note: runs.at(-1)?.note ?? 'failed',
      };
    };
    const raw = summary('raw ws + JSON.parse');
    const figures: Figure[] = [];
    for (const [name] of contenders) {
      const s = summary(name);
      figures.push({
        name: `${name}: trades/s`,
        measured: s.rate,
        unit: 'trades/s',
        note: `median of ${ROUNDS} x ${MEASURE_MS} ms${s.note ? `; ${s.note}` : ''}`,
      });
      figures.push({ name: `${name}: CPU per trade`, measured: s.cpu, unit: 'us' });
      if (name !== 'raw ws + JSON.parse') {
        figures.push({
          name: `${name}: rate vs raw client`,
          measured: s.rate / raw.rate,
          unit: 'x',
          ...(name === '@trade/exchange-binance'
            ? { target: { op: '>=' as const, value: 1.5 } }
            : {}),
          note: `CPU per trade ${(raw.cpu / s.cpu).toFixed(2)}x better than raw`,
        });
      }
    }
    return figures;
  },
};
