import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBinanceSimulator } from '@trade/exchange-binance/sim';
import type pg from 'pg';
import { BenchDatabase, benchRedisUrl, clearTickCache } from '../bench-database.js';
import { median, type BenchSuite, type Figure } from '../harness.js';
import { FIRST_ID, sustainedRate } from '../tick-load.js';
import { ensureAppBuilt, startTradingCore, type AppProcess } from '../trading-core-process.js';

// Issue 16: the end-to-end trade rate of `trading-core live --paper-trading`
// with quotes on (CHANNELS=trade,bookTicker, the default) against trades
// alone (CHANNELS=trade), on the same simulator load: its book moves on every
// trade in both runs, so both receive the same trades and only the second
// also takes, stores and trades on the quotes. Alternating rounds, each on a
// fresh database and app process; the figure is the median of the rounds'
// ratios. Target: >= 0.85.

const DATABASE = new BenchDatabase('trade_quotes_bench');
const SYMBOLS = ['QTEAUSDT', 'QTEBUSDT'];
const ROUNDS = Number(process.env.BENCH_QUOTES_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_QUOTES_SECONDS ?? 10);
// Node flags for the app process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
const APP_NODE_ARGS = (process.env.BENCH_QUOTES_APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Only this channel list (`trade` or `trade,bookTicker`), one run per round: for profiling.
const ONLY = process.env.BENCH_QUOTES_ONLY;

interface Round {
  readonly rate: number;
  /** App CPU microseconds per committed tick. */
  readonly cpuPerTick: number;
  readonly quotes: number;
  readonly lost: number;
}

async function countQuotes(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'select count(*)::text as n from quote_data where symbol = any($1)',
    [SYMBOLS],
  );
  return Number(rows[0]!.n);
}

async function oneRun(channels: string, seed: number): Promise<Round> {
  await DATABASE.fresh();
  await clearTickCache(SYMBOLS);
  const dataDir = await mkdtemp(join(tmpdir(), 'trade-quotes-bench-'));
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: 'max',
    seed,
    firstTradeId: FIRST_ID,
    bookUpdatesPerTrade: 1,
    retain: 5_000_000,
  });
  let db: pg.Client | undefined;
  let app: AppProcess | undefined;
  try {
    const started = await startTradingCore({
      args: ['live', '--paper-trading'],
      env: {
        SYMBOLS: SYMBOLS.join(','),
        CHANNELS: channels,
        BINANCE_WS_URL: sim.url,
        BINANCE_REST_URL: sim.restUrl,
        DATABASE_URL: DATABASE.url,
        REDIS_URL: benchRedisUrl,
        DATA_DIR: dataDir,
      },
      nodeArgs: APP_NODE_ARGS,
    });
    app = started;
    db = await DATABASE.connect();
    const run = await sustainedRate(sim, db, {
      rate: 'max',
      seconds: SECONDS,
      cpuSeconds: () => started.cpuSeconds(),
    });
    await app.stop();
    app = undefined;
    return {
      rate: run.generated / run.seconds,
      cpuPerTick: (run.cpuSeconds * 1e6) / run.generated,
      quotes: await countQuotes(db),
      lost: run.lost,
    };
  } finally {
    await app?.stop();
    await db?.end().catch(() => undefined);
    await sim.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'quotes',
  async run() {
    ensureAppBuilt();
    if (ONLY !== undefined) {
      const run = await oneRun(ONLY, 40);
      await DATABASE.drop();
      return [
        { name: `sustained trade rate, CHANNELS=${ONLY}`, measured: run.rate, unit: 'ticks/s' },
        { name: 'app CPU per tick', measured: run.cpuPerTick, unit: 'us' },
      ];
    }
    const ratios: number[] = [];
    const alone: number[] = [];
    const withQuotes: number[] = [];
    const cpuAlone: number[] = [];
    const cpuWithQuotes: number[] = [];
    let quotes = 0;
    let lost = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which goes first, so a drift of the machine is shared.
        const seed = 40 + round;
        const first = round % 2 === 0 ? 'trade' : 'trade,bookTicker';
        const a = await oneRun(first, seed);
        const b = await oneRun(first === 'trade' ? 'trade,bookTicker' : 'trade', seed);
        const [tradesOnly, both] = first === 'trade' ? [a, b] : [b, a];
        alone.push(tradesOnly.rate);
        withQuotes.push(both.rate);
        cpuAlone.push(tradesOnly.cpuPerTick);
        cpuWithQuotes.push(both.cpuPerTick);
        ratios.push(both.rate / tradesOnly.rate);
        quotes += both.quotes;
        lost += a.lost + b.lost;
      }
    } finally {
      await DATABASE.drop();
      await clearTickCache(SYMBOLS);
    }
    const rounds = `${ROUNDS} alternating rounds of ${SECONDS} s at the simulator's 'max'`;
    const figures: Figure[] = [
      {
        name: 'trade rate with trade,bookTicker / trades alone',
        measured: median(ratios),
        unit: 'ratio',
        target: { op: '>=', value: 0.85 },
        note: `median of ${rounds}: ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
      },
      {
        name: 'sustained trade rate, trades alone',
        measured: median(alone),
        unit: 'ticks/s',
        note: `every tick committed; the simulator's book moves on every trade`,
      },
      {
        name: 'sustained trade rate, with quotes stored and traded on',
        measured: median(withQuotes),
        unit: 'ticks/s',
        note: `${quotes.toLocaleString('en-US')} quotes stored in all`,
      },
      {
        name: 'app CPU per committed tick, trades alone / with quotes',
        measured: median(cpuWithQuotes),
        unit: 'us',
        note: `with quotes (a quote per trade or so); trades alone ${median(cpuAlone).toFixed(1)} us`,
      },
      { name: 'ticks lost', measured: lost, unit: 'ticks', target: { op: '<=', value: 0 } },
    ];
    return figures;
  },
};
