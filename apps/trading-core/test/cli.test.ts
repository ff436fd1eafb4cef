import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startBinanceSimulator } from '@trade/exchange-binance/sim';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { launch, waitForStatus } from './support/app-process.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('trading-core CLI', () => {
  it('stops at start with a message naming a bad setting', async () => {
    const run = launch(['live'], { METRICS_PORT: 'ninety' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toBe(
      'trading-core: invalid configuration: METRICS_PORT: expected a port number from 0 to 65535, got "ninety"\n',
    );
  });

  it.each([
    [['live'], { SYMBOLS: '' }, 'SYMBOLS: expected a comma-separated list'],
    [
      ['live', '--strategy', 'macd', '--paper-trading'],
      {},
      '--strategy: expected sma, rsi or the path of a strategy module such as ./my-strategy.mjs, got "macd"',
    ],
    [
      ['live', '--sim-rate=-3'],
      {},
      '--sim-rate: expected a positive number of trades per second, or max',
    ],
    [['sim', '--port', '99999'], {}, '--port: expected an integer from 0 to 65535'],
    [
      ['backtest', '--symbol', 'BTCUSDT'],
      {},
      '--strategy: expected sma, rsi or the path of a strategy module such as ./my-strategy.mjs, got nothing',
    ],
    [
      ['backtest', '--strategy', 'sma', '--strategy-options', 'fast=3,speed=9', '--symbol', 'ETH'],
      {},
      '--strategy-options: expected options of sma (fast, slow), got "speed=9"',
    ],
    [
      ['backtest', '--strategy', 'sma', '--symbol', 'BTCUSDT', '--from', 'yesterday'],
      {},
      '--from: expected an ISO 8601 time',
    ],
    [
      ['candles', '--symbol', 'BTCUSDT', '--interval', '2m'],
      {},
      '--interval: expected 1m, 5m, 1h, 1d, got "2m"',
    ],
    [['candles', '--interval', '1h'], {}, '--symbol: expected a symbol such as BTCUSDT'],
    [['store'], { NATS_URL: undefined }, 'NATS_URL: expected a nats:// URL'],
    [['collect', '--sim'], { NATS_URL: undefined }, 'NATS_URL: expected a nats:// URL'],
    [
      ['collect', '--sim', '--channels', 'trade,ticker'],
      { NATS_URL: 'nats://127.0.0.1:1' },
      '--channels: expected channels among trade, bookTicker, depth ("ticker" is none of them)',
    ],
    [
      ['live', '--sim'],
      { CHANNELS: 'depth,' },
      'CHANNELS: expected a comma-separated list of channels among trade, bookTicker, depth',
    ],
    [['paper'], { NATS_URL: undefined }, 'NATS_URL: expected a nats:// URL'],
    [
      ['paper', '--strategy', 'macd'],
      { NATS_URL: 'nats://127.0.0.1:1' },
      '--strategy: expected sma, rsi or the path of a strategy module such as ./my-strategy.mjs, got "macd"',
    ],
    [
      ['paper'],
      { NATS_URL: 'nats://127.0.0.1:1', NATS_CONSUMER: 'store' },
      "NATS_CONSUMER: expected a consumer of paper's own, not the writers' (store)",
    ],
    [
      ['store'],
      { NATS_URL: 'nats://u:hunter2@127.0.0.1:4222', DATABASE_URL: undefined },
      'DATABASE_URL: expected a postgres:// URL',
    ],
    [
      ['store', '--nats', 'http://u:hunter2@127.0.0.1:4222'],
      {},
      '--nats: expected a nats:// URL, or a comma-separated list of them (one per server), got "http://u:***@127.0.0.1:4222"',
    ],
    [['store'], { NATS_URL: 'nats://127.0.0.1:4222', NATS_STREAM: 'a.b' }, 'NATS_STREAM: expected'],
    [
      ['live'],
      { DATABASE_URL: 'mysql://u:hunter2@db/x' },
      'DATABASE_URL: expected a postgres:// or postgresql:// URL, got "mysql://u:***@db/x"',
    ],
  ])('%j with %j fails naming the setting', async (args, env, message) => {
    const run = launch(args, env);
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain(message);
    expect(run.output().stderr).not.toContain('hunter2');
  });

  it('says what is wrong with an unknown command or flag', async () => {
    const unknown = launch(['fly']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output().stderr).toContain('unknown command: fly');
    const flag = launch(['live', '--nope']);
    expect(await flag.exited).toBe(2);
    expect(flag.output().stderr).toContain("Unknown option '--nope'");
    const misplaced = launch(['migrate', '--sim']);
    expect(await misplaced.exited).toBe(2);
    expect(misplaced.output().stderr).toContain('migrate does not take --sim');
    const channels = launch(['paper', '--channels', 'trade']);
    expect(await channels.exited).toBe(2);
    expect(channels.output().stderr).toContain('paper does not take --channels');
  });

  it('prints help, for the CLI and for each command', async () => {
    const run = launch(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('Usage: trading-core <command> [options]');
    for (const command of ['live', 'sim', 'migrate', 'backtest', 'store', 'collect', 'paper']) {
      const help = launch([command, '--help']);
      expect(await help.exited).toBe(0);
      expect(help.output().stdout).toContain(`Usage: trading-core ${command}`);
    }
  });

  it.each([
    ['DATABASE_URL', 'postgres://user:s3cret-db@host:badport/db'],
    ['DATABASE_URL', 'postgres://user:s3cret-db@[::1/db'],
    ['DATABASE_URL', 'user:s3cret-db@host/db'],
    ['REDIS_URL', 'redis://:s3cret-redis@[bad'],
    ['BINANCE_REST_URL', 'https://key:s3cret-rest@api binance com'],
  ])('%s=%j stops the app naming it, never showing the password', async (name, value) => {
    const run = launch(['live'], { [name]: value });
    expect(await run.exited).toBe(2);
    const { stdout, stderr } = run.output();
    expect(stderr).toMatch(new RegExp(`^trading-core: invalid configuration: ${name}: expected `));
    expect(stdout + stderr).not.toContain('s3cret');
  });

  it.each([['live'], ['migrate']])(
    '%s names DATA_DIR when it cannot write there',
    async (command) => {
      const run = launch([command], { DATA_DIR: '/etc/passwd/trading-core-data' });
      expect(await run.exited).toBe(2);
      expect(run.output().stderr).toMatch(
        /^trading-core: invalid configuration: DATA_DIR: expected a directory this process can create and write \(E[A-Z]+\), got "\/etc\/passwd\/trading-core-data"\n$/,
      );
    },
  );

  it('names LOG_LEVEL when it is not a level', async () => {
    const run = launch(['migrate'], { LOG_LEVEL: 'loud' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toBe(
      'trading-core: invalid configuration: LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"\n',
    );
  });

  it('names METRICS_PORT when the port is taken', async () => {
    const holder = launch(['sim', '--port', '0']);
    const serving = await holder.waitForLog(/^SIMULATED Binance serving /);
    const port = new URL(String(serving.ws)).port;
    try {
      const run = launch(['live', '--sim'], {
        METRICS_PORT: port,
        DATA_DIR: '/tmp/trading-core-port-test',
      });
      expect(await run.exited).toBe(1);
      expect(run.output().stderr).toContain(
        `METRICS_HOST/METRICS_PORT: metrics server cannot listen on 127.0.0.1:${port}: the port is already in use`,
      );
    } finally {
      holder.child.kill('SIGTERM');
      await holder.exited;
    }
  });

  it('LOG_FORMAT=pretty prints one readable line per event, passwords masked; piped, JSON lines', async () => {
    const dataDir = `/tmp/trading-core-pretty-${process.pid}`;
    const password = 'pw-pretty-7731';
    const redisUrl = new URL(REDIS_URL);
    redisUrl.username = 'default';
    redisUrl.password = password;
    const env = { DATA_DIR: dataDir, SYMBOLS: 'BTCUSDT', REDIS_URL: redisUrl.toString() };
    const pretty = launch(['live', '--sim'], { ...env, LOG_FORMAT: 'pretty' });
    try {
      while (!pretty.output().stdout.includes('metrics served on')) {
        if (pretty.child.exitCode !== null) throw new Error(pretty.output().stderr);
        await new Promise((r) => setTimeout(r, 25));
      }
      pretty.child.kill('SIGTERM');
      expect(await pretty.exited).toBe(0);
      const lines = pretty.output().stdout.trim().split('\n');
      // Local time, the level word, the component, the message, then the other fields.
      for (const line of lines)
        expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): \S/);
      expect(lines.some((l) => /\] INFO: exchange: /.test(l))).toBe(true);
      expect(
        lines.some((l) => / INFO: metrics served on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(l)),
      ).toBe(true);
      expect(lines.at(-1)).toMatch(/ INFO: stopped \{"stored":\d+/);
      expect(pretty.output().stdout).not.toContain(password);
      expect(pretty.output().stdout).toContain('***');
    } finally {
      pretty.child.kill('SIGKILL');
    }
    // On a terminal (a pseudo-terminal from util-linux's script), readable lines without LOG_FORMAT.
    const onTerminal = spawnSync(
      'script',
      ['-q', '-e', '-c', `${process.execPath} ${cliPath} migrate`, '/dev/null'],
      { env: { ...process.env, ...env, LOG_FORMAT: undefined, NO_COLOR: '1' }, encoding: 'utf8' },
    );
    expect(onTerminal.status).toBe(0);
    expect(onTerminal.stdout).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: (database: )?database migrated \{/m,
    );
    expect(onTerminal.stdout).not.toMatch(/^\{"level"/m);
    // The test's pipe is not a terminal: without LOG_FORMAT, JSON lines.
    const piped = launch(['migrate'], env);
    expect(await piped.exited).toBe(0);
    const json = piped.output().stdout.trim().split('\n');
    expect(json.length).toBeGreaterThan(0);
    for (const line of json) expect(() => JSON.parse(line) as unknown).not.toThrow();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('never prints a password of any URL setting while running, nor exposes one in metrics', async () => {
    const database = 'trade_app_secrets_test';
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.query(`create database ${database}`);
    await admin.end();
    const sim = await startBinanceSimulator({ symbols: ['BTCUSDT'], rate: 0, seed: 11 });
    const withPassword = (url: string, password: string, user = 'u') => {
      const parsed = new URL(url);
      parsed.username = parsed.username || user;
      parsed.password = password;
      return parsed.toString().replace(/\/$/, '');
    };
    const databaseUrl = new URL(ADMIN_URL);
    databaseUrl.pathname = `/${database}`;
    // Trust auth ignores the database password; Redis has none and refuses AUTH;
    // fetch refuses a REST URL with credentials, and its error quotes the URL.
    const passwords = ['pw-ws-5521', 'pw-rest-5522', 'pw-db-5523', 'pw-redis-5524'];
    const run = launch(['live'], {
      SYMBOLS: 'BTCUSDT',
      BINANCE_WS_URL: withPassword(sim.url, passwords[0]!),
      BINANCE_REST_URL: withPassword(sim.restUrl, passwords[1]!),
      DATABASE_URL: withPassword(databaseUrl.toString(), passwords[2]!, 'postgres'),
      REDIS_URL: withPassword(REDIS_URL, passwords[3]!, 'default'),
      DATA_DIR: `/tmp/trading-core-secrets-${process.pid}`,
      LOG_LEVEL: 'debug',
    });
    try {
      const url = await run.metricsUrl();
      await waitForStatus(`${url}/ready`, 200);
      sim.generate(10);
      sim.gap(5);
      sim.generate(10);
      await run.waitForLog(/REST request failed/);
      const pages = await Promise.all(
        ['/metrics', '/ready', '/health'].map(async (path) => (await fetch(url + path)).text()),
      );
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      const { stdout, stderr } = run.output();
      for (const password of passwords) {
        expect(stdout + stderr + pages.join('\n')).not.toContain(password);
      }
      // The URLs were shown, masked.
      expect(stdout).toContain(`postgres://postgres:***@`);
      expect(stdout).toContain(`***`);
    } finally {
      run.child.kill('SIGKILL');
      await sim.close();
    }
  });
});
