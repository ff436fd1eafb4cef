import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, createTick, type Tick } from '@trade/core';
import type { StrategyContext } from '@trade/paper-engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StrategyModuleError,
  isStrategyPath,
  loadStrategy,
  parseStrategyOptions,
} from './strategy-loader.js';

const DEFINITION = 'a strategy definition { name, warmUpTicks, create(symbol) }';
const STRATEGY =
  'a strategy { onTick(tick, ctx), warmUp?(ticks), onFill?(fill), onRejected?(rejection) }';
const HOLDING = `create: () => ({ onTick: () => ({ action: 'HOLD' }) })`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strategy-loader-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let written = 0;
/** Writes `source` as a new module (a new name each time: imports are cached by URL). */
async function writeModule(source: string, extension = '.mjs'): Promise<string> {
  written += 1;
  const file = join(dir, `strategy-${written}${extension}`);
  await writeFile(file, source);
  return file;
}

/** The error loading `spec` fails with. */
async function failure(spec: string, options?: string): Promise<Error> {
  const error = await loadStrategy(spec, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error(`${spec} loaded`);
  return error;
}

const tick = (price: string, tradeId = 1): Tick =>
  createTick({
    symbol: 'BTCUSDT',
    tradeId,
    price,
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: 1_700_000_000_000 + tradeId,
  });
const flat: StrategyContext = { symbol: 'BTCUSDT', position: 0, averageCost: 0, cash: 10_000 };

describe('parseStrategyOptions', () => {
  it('reads key=value pairs of numbers, spaces allowed', () => {
    expect(parseStrategyOptions('fast=10,slow=50')).toEqual({ fast: 10, slow: 50 });
    expect(parseStrategyOptions(' a = -1.5 , b=.25,c=2e3, d_2=+4 ')).toEqual({
      a: -1.5,
      b: 0.25,
      c: 2000,
      d_2: 4,
    });
  });

  it.each([
    ['fast', 'expected key=value pairs separated by commas, such as fast=10,slow=50, got "fast"'],
    ['=3', 'expected key=value pairs separated by commas, such as fast=10,slow=50, got "=3"'],
    [
      'fast=1,,slow=2',
      'expected key=value pairs separated by commas, such as fast=10,slow=50, got an empty string',
    ],
    [
      '',
      'expected key=value pairs separated by commas, such as fast=10,slow=50, got an empty string',
    ],
    ['2x=1', 'expected key=value pairs separated by commas, such as fast=10,slow=50, got "2x=1"'],
    ['fast=ten', 'expected a number for fast, got "fast=ten"'],
    ['fast=', 'expected a number for fast, got "fast="'],
    ['fast=0x10', 'expected a number for fast, got "fast=0x10"'],
    ['fast=Infinity', 'expected a number for fast, got "fast=Infinity"'],
    ['fast=1e999', 'expected a number for fast, got "fast=1e999"'],
    ['fast=1,fast=2', 'expected fast given once, got "fast=2"'],
  ])('refuses %j naming --strategy-options and the part', (text, message) => {
    let error: unknown;
    try {
      parseStrategyOptions(text);
    } catch (e) {
      error = e;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(`--strategy-options: ${message}`);
  });
});

describe('isStrategyPath', () => {
  it('takes anything with a slash or a module extension for a path', () => {
    expect(isStrategyPath('sma')).toBe(false);
    expect(isStrategyPath('RSI')).toBe(false);
    expect(isStrategyPath('./x.mjs')).toBe(true);
    expect(isStrategyPath('x.cjs')).toBe(true);
    expect(isStrategyPath('x.JS')).toBe(true);
    expect(isStrategyPath('strategies/x')).toBe(true);
    expect(isStrategyPath('C:\\strategies\\x')).toBe(true);
  });
});

describe('loadStrategy: built-ins', () => {
  it('builds sma and rsi with their defaults or --strategy-options', async () => {
    expect(await loadStrategy('sma', undefined)).toMatchObject({
      name: 'sma',
      options: { fast: 5, slow: 20 },
    });
    expect(await loadStrategy('SMA', 'fast=10,slow=50')).toMatchObject({
      name: 'sma',
      warmUpTicks: 50,
      options: { fast: 10, slow: 50 },
    });
    expect(await loadStrategy('rsi', 'period=7, oversold=25')).toMatchObject({
      name: 'rsi',
      warmUpTicks: 8,
      options: { period: 7, oversold: 25, overbought: 70 },
    });
  });

  it.each([
    [
      'macd',
      undefined,
      '--strategy: expected sma, rsi or the path of a strategy module such as ./my-strategy.mjs, got "macd"',
    ],
    ['sma', 'speed=3', '--strategy-options: expected options of sma (fast, slow), got "speed=3"'],
    [
      'rsi',
      'fast=3',
      '--strategy-options: expected options of rsi (period, oversold, overbought), got "fast=3"',
    ],
    [
      'sma',
      'fast=60,slow=50',
      '--strategy-options: sma.fast: expected fewer ticks than sma.slow (50), got 60',
    ],
    ['rsi', 'period=0', '--strategy-options: rsi.period: expected an integer from 1 to'],
    ['sma', 'fast=1.5', '--strategy-options: sma.fast: expected an integer from 1 to'],
    ['sma', 'fast', '--strategy-options: expected key=value pairs'],
  ])('%s %s: refused naming the setting', async (name, options, message) => {
    const error = await failure(name, options);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message.startsWith(message)).toBe(true);
  });
});

describe('loadStrategy: modules', () => {
  it('loads a default-exported definition, relative to the current directory', async () => {
    const file = await writeModule(`
      class Counter {
        seen = 0;
        onTick() { this.seen += 1; return this.seen === 2 ? { action: 'BUY', size: 0.5 } : { action: 'HOLD' }; }
        warmUp(ticks) { this.seen += ticks.length; }
      }
      export default { name: 'counter', warmUpTicks: 1, create: () => new Counter() };
    `);
    const spec = relative(process.cwd(), file);
    expect(spec).not.toMatch(/^\//);
    const definition = await loadStrategy(spec, undefined);
    expect(definition).toMatchObject({ name: 'counter', warmUpTicks: 1, options: {} });
    const strategy = definition.create('ETHUSDT');
    // Its methods run on the instance: `this` holds.
    strategy.warmUp?.([tick('1')]);
    expect(strategy.onTick(tick('2', 2), flat)).toEqual({ action: 'BUY', size: 0.5 });
    expect(strategy.onFill).toBeUndefined();
  });

  it('calls a default-exported function with the options, and keeps its own options', async () => {
    const file = await writeModule(`
      export default function make(options) {
        return { name: 'made', warmUpTicks: options.n ?? 0, ${HOLDING} };
      }
    `);
    expect(await loadStrategy(file, 'n=3,m=-1')).toMatchObject({
      name: 'made',
      warmUpTicks: 3,
      options: { n: 3, m: -1 },
    });
    const own = await writeModule(`
      export default (o) => ({ name: 'own', warmUpTicks: 0, options: { k: o.k * 2 }, ${HOLDING} });
    `);
    expect((await loadStrategy(own, 'k=2')).options).toEqual({ k: 4 });
  });

  it('loads CommonJS (.cjs, and compiled `export default`) and ESM .js', async () => {
    const cjs = await writeModule(
      `module.exports = { name: 'cjs', warmUpTicks: 0, ${HOLDING} };`,
      '.cjs',
    );
    expect((await loadStrategy(cjs, undefined)).name).toBe('cjs');
    const compiled = await writeModule(
      `Object.defineProperty(exports, '__esModule', { value: true });
       exports.default = () => ({ name: 'compiled', warmUpTicks: 2, ${HOLDING} });`,
      '.cjs',
    );
    expect(await loadStrategy(compiled, undefined)).toMatchObject({
      name: 'compiled',
      warmUpTicks: 2,
    });
    const js = await writeModule(
      `export default { name: 'esm-js', warmUpTicks: 0, ${HOLDING} };`,
      '.js',
    );
    expect((await loadStrategy(js, undefined)).name).toBe('esm-js');
  });

  it('loads the example strategy, which trades runs of rises and falls', async () => {
    const example = fileURLToPath(
      new URL('../../../examples/strategies/momentum.mjs', import.meta.url),
    );
    const definition = await loadStrategy(example, 'rising=2,falling=1');
    expect(definition).toMatchObject({
      name: 'momentum',
      warmUpTicks: 3,
      options: { rising: 2, falling: 1 },
    });
    const strategy = definition.create('BTCUSDT');
    const long = { ...flat, position: 1 };
    const actions = ['10', '11', '11', '12', '13'].map((p, i) =>
      strategy.onTick(tick(p, i + 1), flat),
    );
    expect(actions.map((s) => s.action)).toEqual(['HOLD', 'HOLD', 'HOLD', 'BUY', 'HOLD']);
    expect(strategy.onTick(tick('12', 6), long).action).toBe('SELL');
    expect((await failure(example, 'rising=0')).message).toBe(
      `--strategy ${example}: its default export threw when called with the options {"rising":0}: Error: rising must be a whole number of 1 or more, got 0`,
    );
    expect((await failure(example, 'speed=1')).message).toContain(
      'Error: unknown option speed: momentum takes rising and falling',
    );
  });

  it('checks every signal: a bad one throws, which the engine treats as HOLD', async () => {
    const file = await writeModule(`
      export default { name: 'sloppy', warmUpTicks: 0,
        create: () => ({ onTick: (tick) => tick.price === '1' ? { action: 'buy' } : { action: 'SELL', size: 2 } }) };
    `);
    const strategy = (await loadStrategy(file, undefined)).create('BTCUSDT');
    expect(() => strategy.onTick(tick('1'), flat)).toThrow(
      'strategy sloppy: onTick returned {"action":"buy"}, expected a signal { action: "BUY" | "SELL" | "HOLD", size?: a number in (0, 1] }',
    );
    expect(() => strategy.onTick(tick('2'), flat)).toThrow(
      'strategy sloppy: onTick returned {"action":"SELL","size":2}',
    );
  });

  it('checks the strategy made for each symbol', async () => {
    const file = await writeModule(`
      export default { name: 'picky', warmUpTicks: 0,
        create: (symbol) => symbol === 'BTCUSDT' ? { onTick: () => ({ action: 'HOLD' }) } : {} };
    `);
    const definition = await loadStrategy(file, undefined);
    expect(() => definition.create('ETHUSDT')).toThrow(
      `--strategy ${file}: its default export: create("ETHUSDT") returned an object whose onTick is undefined`,
    );
  });

  /** Modules that are refused, and the problem said after `--strategy <file>: `. */
  const REFUSED: [string, string, string?][] = [
    ['threw while loading: Error: boom', "throw new Error('boom');"],
    // A SyntaxError thrown by the module's code (JSON.parse, say) is no syntax error of its own.
    ['threw while loading: SyntaxError: bad settings', "throw new SyntaxError('bad settings');"],
    [
      'has no default export: expected `export default` of a strategy definition { name, warmUpTicks, create(symbol) } or of a function (options) => definition',
      'export const strategy = {};',
    ],
    [
      `its default export is 42, expected ${DEFINITION} or a function (options) => definition`,
      'export default 42;',
    ],
    [
      `its default export is null, expected ${DEFINITION} or a function (options) => definition`,
      'export default null;',
    ],
    [
      `its default export is "sma", expected ${DEFINITION} or a function (options) => definition`,
      "export default 'sma';",
    ],
    [
      'its default export: name must be a non-empty string, got undefined',
      `export default { warmUpTicks: 0, ${HOLDING} };`,
    ],
    [
      'its default export: name must be a non-empty string, got " "',
      `export default { name: ' ', warmUpTicks: 0, ${HOLDING} };`,
    ],
    [
      'its default export: warmUpTicks must be an integer of 0 or more, got undefined',
      `export default { name: 'x', ${HOLDING} };`,
    ],
    [
      'its default export: warmUpTicks must be an integer of 0 or more, got -1',
      `export default { name: 'x', warmUpTicks: -1, ${HOLDING} };`,
    ],
    [
      'its default export: warmUpTicks must be an integer of 0 or more, got 1.5',
      `export default { name: 'x', warmUpTicks: 1.5, ${HOLDING} };`,
    ],
    [
      'its default export: warmUpTicks must be an integer of 0 or more, got "3"',
      `export default { name: 'x', warmUpTicks: '3', ${HOLDING} };`,
    ],
    [
      'its default export: options, when given, must be an object of numbers, got {"a":"b"}',
      `export default { name: 'x', warmUpTicks: 0, options: { a: 'b' }, ${HOLDING} };`,
    ],
    [
      'its default export: create must be a function (symbol) => strategy, got undefined',
      "export default { name: 'x', warmUpTicks: 0 };",
    ],
    [
      'its default export: create must be a function (symbol) => strategy, got {}',
      "export default { name: 'x', warmUpTicks: 0, create: {} };",
    ],
    [
      'its default export: create("BTCUSDT") threw: RangeError: no',
      "export default { name: 'x', warmUpTicks: 0, create() { throw new RangeError('no'); } };",
    ],
    [
      `its default export: create("BTCUSDT") returned undefined, expected ${STRATEGY}`,
      "export default { name: 'x', warmUpTicks: 0, create: () => undefined };",
    ],
    [
      `its default export: create("BTCUSDT") returned an object whose onTick is undefined, expected ${STRATEGY}`,
      "export default { name: 'x', warmUpTicks: 0, create: () => ({ ontick() {} }) };",
    ],
    [
      'its default export: create("BTCUSDT") returned a strategy whose warmUp is 3, not a function',
      "export default { name: 'x', warmUpTicks: 0, create: () => ({ onTick() {}, warmUp: 3 }) };",
    ],
    [
      'its default export: create("BTCUSDT") returned a strategy whose onFill is "log", not a function',
      "export default { name: 'x', warmUpTicks: 0, create: () => ({ onTick() {}, onFill: 'log' }) };",
    ],
    [
      'its default export threw when called with the options {"n":1}: Error: bad n',
      "export default () => { throw new Error('bad n'); };",
      'n=1',
    ],
    [
      `the definition its default export returned is undefined, expected ${DEFINITION}`,
      'export default () => undefined;',
    ],
    [
      `the definition its default export returned is a function, expected ${DEFINITION}`,
      'export default () => () => ({});',
    ],
    [
      'the definition its default export returned: name must be a non-empty string, got 7',
      'export default () => ({ name: 7, warmUpTicks: 0 });',
    ],
    [
      `the definition its default export returned: create("BTCUSDT") returned 5, expected ${STRATEGY}`,
      "export default () => ({ name: 'x', warmUpTicks: 0, create: () => 5 });",
    ],
  ];

  it.each(REFUSED)('refuses a module: %s', async (problem, source, options) => {
    const file = await writeModule(source);
    const error = await failure(file, options);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(StrategyModuleError);
    expect((error as StrategyModuleError).file).toBe(file);
    expect(error.message).toBe(`--strategy ${file}: ${problem}`);
  });

  it('refuses a missing file, a directory, and a file that is not a JavaScript module', async () => {
    const missing = join(dir, 'missing.mjs');
    expect((await failure(missing)).message).toBe(
      `--strategy ${missing}: no such file (looked for ${missing})`,
    );
    const relativeMissing = './no-such-strategy.mjs';
    expect((await failure(relativeMissing)).message).toBe(
      `--strategy ${relativeMissing}: no such file (looked for ${join(process.cwd(), 'no-such-strategy.mjs')})`,
    );
    const folder = join(dir, 'folder.mjs');
    await mkdir(folder);
    expect((await failure(folder)).message).toBe(`--strategy ${folder}: not a file (${folder})`);
    const ts = await writeModule('export default {};', '.ts');
    expect((await failure(ts)).message).toBe(
      `--strategy ${ts}: not a JavaScript module: expected a file ending in .mjs, .js or .cjs`,
    );
  });

  it('refuses a module that does not load, naming what failed', async () => {
    // The exact syntax error message is Node's: test/custom-strategy.test.ts checks it
    // through the CLI (vitest parses modules itself here).
    const broken = await writeModule("export default {\n  name: 'x',,\n};\n");
    const syntax = await failure(broken);
    expect(ConfigError.isInstance(syntax)).toBe(true);
    expect(syntax.message).toMatch(new RegExp(`^--strategy ${broken}: .*Unexpected token`, 's'));
    const dependency = await writeModule(
      "import 'no-such-package-for-strategies';\nexport default {};\n",
    );
    expect((await failure(dependency)).message).toBe(
      `--strategy ${dependency}: failed to load: Error: Cannot find package 'no-such-package-for-strategies' imported from ${dependency}`,
    );
  });

  it('refuses options for a module that exports a definition, and bad options', async () => {
    const file = await writeModule(`export default { name: 'x', warmUpTicks: 0, ${HOLDING} };`);
    expect((await failure(file, 'n=1')).message).toBe(
      `--strategy-options ${file}: takes no options: its default export is a definition, not a function (options) => definition`,
    );
    const made = await writeModule(
      `export default () => ({ name: 'x', warmUpTicks: 0, ${HOLDING} });`,
    );
    expect((await failure(made, 'n=one')).message).toBe(
      '--strategy-options: expected a number for n, got "n=one"',
    );
  });
});
