import { describe, expect, it } from 'vitest';
import { launch } from './support/app-process.js';

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
      '--strategy: expected one of sma, rsi, got "macd"',
    ],
    [
      ['live', '--sim-rate=-3'],
      {},
      '--sim-rate: expected a positive number of trades per second, or max',
    ],
    [['sim', '--port', '99999'], {}, '--port: expected an integer from 0 to 65535'],
    [['backtest', '--symbol', 'BTCUSDT'], {}, '--strategy: expected sma or rsi, got nothing'],
    [
      ['backtest', '--strategy', 'sma', '--symbol', 'BTCUSDT', '--from', 'yesterday'],
      {},
      '--from: expected an ISO 8601 time',
    ],
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
  });

  it('prints help, for the CLI and for each command', async () => {
    const run = launch(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('Usage: trading-core <command> [options]');
    for (const command of ['live', 'sim', 'migrate', 'backtest']) {
      const help = launch([command, '--help']);
      expect(await help.exited).toBe(0);
      expect(help.output().stdout).toContain(`Usage: trading-core ${command}`);
    }
  });
});
