import { performance } from 'node:perf_hooks';
import type { BinanceSimulator } from '@trade/exchange-binance/sim';
import type pg from 'pg';

// The simulator's load on an app that stores into tick_data, watched from
// outside: what it generated, what is committed, how long it took.
//
// Latency is observed from outside: every poll this process reads the
// newest committed trade id per symbol; the trades that became visible are
// charged (poll time - the time this process generated and sent them). That
// is receipt-to-commit plus loopback delivery plus up to one poll interval:
// an upper bound of the app's own figure.

/** Every run numbers trades from here, so counts need no copy of the history. */
export const FIRST_ID = 1;

/** How often the committed heads are read. */
export const POLL_MS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Trades of `symbol` the simulator generated so far. */
export function generatedOf(sim: BinanceSimulator, symbol: string): number {
  return (sim.lastTradeId(symbol) ?? FIRST_ID - 1) - FIRST_ID + 1;
}

/** Trades the simulator generated so far, over every symbol. */
export function generatedTotal(sim: BinanceSimulator): number {
  return sim.symbols.reduce((sum, s) => sum + generatedOf(sim, s), 0);
}

/** The newest committed trade id per symbol (0 for none). */
export async function committedHeads(
  db: pg.Client,
  symbols: readonly string[],
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ symbol: string; head: string | null }>(
    `select s.symbol, (select max(trade_id) from tick_data t where t.symbol = s.symbol)::text as head
       from unnest($1::text[]) as s(symbol)`,
    [symbols],
  );
  return new Map(rows.map((r) => [r.symbol, r.head === null ? 0 : Number(r.head)]));
}

/** Resolves with `Date.now()` once the newest generated trade of every symbol is committed. */
export async function waitForHeads(db: pg.Client, sim: BinanceSimulator): Promise<number> {
  for (;;) {
    const heads = await committedHeads(db, sim.symbols);
    if (sim.symbols.every((s) => heads.get(s) === sim.lastTradeId(s))) return Date.now();
    await sleep(POLL_MS);
  }
}

/**
 * Checks that tick_data holds every generated trade once (count and
 * consecutive ids per symbol); resolves with the number missing.
 */
export async function verifyComplete(db: pg.Client, sim: BinanceSimulator): Promise<number> {
  let lost = 0;
  for (const symbol of sim.symbols) {
    const { rows } = await db.query<{ n: string; lo: string | null; hi: string | null }>(
      'select count(*)::text as n, min(trade_id)::text as lo, max(trade_id)::text as hi from tick_data where symbol = $1',
      [symbol],
    );
    const row = rows[0]!;
    if (Number(row.n) !== Number(row.hi) - Number(row.lo) + 1)
      throw new Error(`${symbol}: ids are not consecutive`);
    lost += generatedOf(sim, symbol) - Number(row.n);
  }
  return lost;
}

/** Trade time of the first trade of the first symbol, ms since the epoch (over REST: no copy of the history). */
export async function firstTradeTime(sim: BinanceSimulator): Promise<number> {
  const response = await fetch(
    `${sim.restUrl}/api/v3/historicalTrades?symbol=${sim.symbols[0]}&fromId=${FIRST_ID}&limit=1`,
  );
  const [first] = (await response.json()) as { time: number }[];
  return first!.time;
}

/**
 * Generates `rate` trades per second over every symbol, in 5 ms steps sent
 * at once; `beforeStep` sees each step's send time before it is generated.
 * Returns the function that stops it.
 */
export function pace(
  sim: BinanceSimulator,
  rate: number,
  beforeStep?: (at: number) => void,
): () => void {
  const perSymbolPerStep = rate / sim.symbols.length / 200;
  let carry = 0;
  const start = performance.now();
  let stepsDone = 0;
  const timer = setInterval(() => {
    // Catch up on late timer turns so the rate holds.
    const due = Math.floor((performance.now() - start) / 5) + 1;
    for (; stepsDone < due; stepsDone++) {
      carry += perSymbolPerStep;
      const count = Math.floor(carry);
      carry -= count;
      if (count === 0) continue;
      beforeStep?.(performance.now());
      sim.generate(count);
    }
  }, 5);
  return () => clearInterval(timer);
}

/** A fixed load: {@link commitLatencies}. */
export interface FixedLoad {
  /** Trades per second over every symbol. */
  readonly rate: number;
  readonly seconds: number;
  /** Trades sent before this many seconds are not charged. */
  readonly warmupSeconds: number;
}

/**
 * Generates `load` and resolves, once every generated trade is committed,
 * with the milliseconds from send to commit of each trade sent after the
 * warm-up (see the top of this file). The simulator must generate only on
 * request (rate 0) and number from {@link FIRST_ID}.
 */
export async function commitLatencies(
  sim: BinanceSimulator,
  db: pg.Client,
  load: FixedLoad,
): Promise<number[]> {
  const symbols = sim.symbols;
  // `sent[symbol]` keeps (first id, send time) of each step.
  const sent = new Map<string, { firstId: number; at: number }[]>(symbols.map((s) => [s, []]));
  const start = performance.now();
  const stopPacing = pace(sim, load.rate, (at) => {
    for (const symbol of symbols) {
      sent.get(symbol)!.push({ firstId: (sim.lastTradeId(symbol) ?? 0) + 1, at });
    }
  });
  const endAt = start + load.seconds * 1000;
  const warmEnd = start + load.warmupSeconds * 1000;

  const latencies: number[] = [];
  // Per symbol: the next trade id not yet seen committed, and the step it belongs to.
  const next = new Map<string, { id: number; step: number }>(
    symbols.map((s) => [s, { id: FIRST_ID, step: 0 }]),
  );
  let generationStopped = false;
  for (;;) {
    if (!generationStopped && performance.now() >= endAt) {
      stopPacing();
      generationStopped = true;
    }
    const heads = await committedHeads(db, symbols);
    const now = performance.now();
    for (const symbol of symbols) {
      const head = heads.get(symbol)!;
      const steps = sent.get(symbol)!;
      const cursor = next.get(symbol)!;
      // Charge each newly visible trade the time since its step was sent.
      while (cursor.id <= head && cursor.step < steps.length) {
        const step = steps[cursor.step]!;
        const stepLast = (steps[cursor.step + 1]?.firstId ?? sim.lastTradeId(symbol)! + 1) - 1;
        const upTo = Math.min(stepLast, head);
        if (step.at >= warmEnd) {
          for (let id = cursor.id; id <= upTo; id++) latencies.push(now - step.at);
        }
        cursor.id = upTo + 1;
        if (upTo === stepLast) cursor.step++;
      }
    }
    if (generationStopped && symbols.every((s) => heads.get(s) === sim.lastTradeId(s))) break;
    await sleep(POLL_MS);
  }
  return latencies;
}

/** What {@link sustainedRate} measured. */
export interface SustainedRun {
  /** Trades generated, every one of them committed. */
  readonly generated: number;
  /** From the first trade's time until the last trade was committed. */
  readonly seconds: number;
  /** Of which generating. */
  readonly generatingSeconds: number;
  /** Of which committing what was generated, after the generation stopped. */
  readonly drainSeconds: number;
  /** CPU seconds `cpuSeconds` counted over the run. */
  readonly cpuSeconds: number;
  /** Generated trades missing from tick_data. */
  readonly lost: number;
}

/**
 * Runs the generation for `seconds` and resolves once every generated trade
 * is committed. `rate` 'max': the simulator (started with rate 'max',
 * numbering from {@link FIRST_ID}) writes as fast as the app's socket
 * drains, from the moment the app subscribed; a number: that many trades
 * per second in all (simulator rate 0). The rate counts only committed
 * trades: generated / (last commit - first trade's time).
 */
export async function sustainedRate(
  sim: BinanceSimulator,
  db: pg.Client,
  options: {
    readonly rate: number | 'max';
    readonly seconds: number;
    /** CPU seconds of the processes under test so far. */
    readonly cpuSeconds: () => Promise<number>;
  },
): Promise<SustainedRun> {
  const cpu0 = await options.cpuSeconds();
  const stopPacing = options.rate === 'max' ? undefined : pace(sim, options.rate);
  await sleep(options.seconds * 1000);
  stopPacing?.();
  // A stall silences every connection, which stops 'max' generation after
  // flushing what was generated to the socket. A drain that outlasts the
  // app's watchdog (30 s) has it replace the connection: refused, so that
  // the generation does not start again on the new one.
  if (options.rate === 'max') {
    sim.stall(10 * 60_000);
    sim.refuseConnections(10 * 60_000);
  }
  const generatedAt = Date.now();
  const done = await waitForHeads(db, sim);
  const cpu = (await options.cpuSeconds()) - cpu0;
  const lost = await verifyComplete(db, sim);
  const start = await firstTradeTime(sim);
  return {
    generated: generatedTotal(sim),
    seconds: (done - start) / 1000,
    generatingSeconds: (generatedAt - start) / 1000,
    drainSeconds: (done - generatedAt) / 1000,
    cpuSeconds: cpu,
    lost,
  };
}
