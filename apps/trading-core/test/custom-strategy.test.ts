import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTick, silentLogger } from '@trade/core';
import type { BacktestSummary } from '@trade/paper-engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../src/storage.js';
import { launch } from './support/app-process.js';
import { OwnDatabase } from './support/own-database.js';

// `--strategy ./file.mjs` as an operator runs it: the built CLI backtests
// stored ticks with the example module, its options from --strategy-options,
// and stops with exit code 2 naming a module that is broken.

const database = new OwnDatabase('trade_app_custom_strategy_test');
const SYMBOL = 'MOMOUSDT';
const EXAMPLE = fileURLToPath(
  new URL('../../../examples/strategies/momentum.mjs', import.meta.url),
);

/**
 * Runs of two rises and two falls, twice (an unchanged price is no turn):
 * rising=2,falling=2 buys and sells twice; the defaults (3 and 3) once.
 */
const PRICES = [100, 101, 102, 103, 102, 101, 101, 102, 103, 104, 103, 102, 101, 100];

let root: string;
let env: Record<string, string>;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-custom-strategy-'));
  await database.fresh();
  env = { DATABASE_URL: database.url, DATA_DIR: join(root, 'data') };
  const storage = await openStorage({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR!,
    logger: silentLogger,
  });
  try {
    const ticks = PRICES.map((price, i) =>
      createTick({
        symbol: SYMBOL,
        tradeId: i + 1,
        price: price.toFixed(2),
        quantity: '1.00000000',
        isBuyerMaker: false,
        tradeTime: Date.UTC(2026, 0, 16, 12) + i * 1000,
      }),
    );
    expect((await storage.ticks.insertTicks(ticks)).rejected).toEqual([]);
  } finally {
    await storage.close();
  }
});
afterAll(async () => {
  await database.drop();
  await rm(root, { recursive: true, force: true });
});

async function backtest(strategy: string[]): Promise<BacktestSummary> {
  const run = launch(['backtest', ...strategy, '--symbol', SYMBOL, '--json'], env);
  const code = await run.exited;
  expect(code, run.output().stderr).toBe(0);
  return JSON.parse(run.output().stdout) as BacktestSummary;
}

describe('trading-core backtest --strategy FILE', () => {
  it("trades with the module's strategy, its options from --strategy-options", async () => {
    const tuned = await backtest([
      '--strategy',
      EXAMPLE,
      '--strategy-options',
      'rising=2,falling=2',
    ]);
    expect(tuned).toMatchObject({
      strategy: 'momentum',
      strategyOptions: { rising: 2, falling: 2 },
      symbols: [SYMBOL],
      ticks: PRICES.length,
      buys: 2,
      sells: 2,
      roundTrips: { closed: 2 },
    });
    const defaults = await backtest(['--strategy', EXAMPLE]);
    expect(defaults).toMatchObject({
      strategy: 'momentum',
      strategyOptions: { rising: 3, falling: 3 },
      buys: 1,
      sells: 1,
    });
    // The built-ins take options the same way.
    const sma = await backtest(['--strategy', 'sma', '--strategy-options', 'fast=2,slow=3']);
    expect(sma).toMatchObject({ strategy: 'sma', strategyOptions: { fast: 2, slow: 3 } });
  });

  it('stops with exit code 2 naming a broken module and what is wrong', async () => {
    const broken = join(root, 'broken.mjs');
    await writeFile(broken, "export default {\n  name: 'broken',,\n};\n");
    const shapeless = join(root, 'shapeless.mjs');
    await writeFile(
      shapeless,
      "export default { name: 'x', warmUpTicks: -1, create: () => ({ onTick: () => ({ action: 'HOLD' }) }) };\n",
    );
    const cases: [string[], string][] = [
      [
        ['backtest', '--strategy', broken, '--symbol', SYMBOL],
        `--strategy ${broken}: has a syntax error at line 2: Unexpected token ','`,
      ],
      [
        ['backtest', '--strategy', shapeless, '--symbol', SYMBOL],
        `--strategy ${shapeless}: its default export: warmUpTicks must be an integer of 0 or more, got -1`,
      ],
      [
        ['backtest', '--strategy', EXAMPLE, '--strategy-options', 'rising=0', '--symbol', SYMBOL],
        `--strategy ${EXAMPLE}: its default export threw when called with the options {"rising":0}: Error: rising must be a whole number of 1 or more, got 0`,
      ],
      [
        ['backtest', '--strategy', EXAMPLE, '--strategy-options', 'rising=two', '--symbol', SYMBOL],
        '--strategy-options: expected a number for rising, got "rising=two"',
      ],
      [
        ['paper', '--strategy', broken],
        `--strategy ${broken}: has a syntax error at line 2: Unexpected token ','`,
      ],
      [
        ['live', '--paper-trading', '--strategy', shapeless],
        `--strategy ${shapeless}: its default export: warmUpTicks must be an integer of 0 or more, got -1`,
      ],
    ];
    for (const [args, message] of cases) {
      const run = launch(args, { ...env, NATS_URL: 'nats://127.0.0.1:1', SYMBOLS: SYMBOL });
      expect(await run.exited, `${args.join(' ')}: ${run.output().stderr}`).toBe(2);
      expect(run.output().stderr).toBe(`trading-core: invalid configuration: ${message}\n`);
    }
  });
});
