import { resolve } from 'node:path';
import { ConfigError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { readLiveConfig, readLogFormat, readLogLevel, readMetricsConfig } from './config.js';

describe('readMetricsConfig', () => {
  it('defaults to 0.0.0.0:9090', () => {
    expect(readMetricsConfig({})).toEqual({ host: '0.0.0.0', port: 9090 });
  });

  it('reads both variables', () => {
    expect(readMetricsConfig({ METRICS_HOST: '127.0.0.1', METRICS_PORT: '9191' })).toEqual({
      host: '127.0.0.1',
      port: 9191,
    });
  });

  it.each([
    ['METRICS_PORT', 'abc', 'METRICS_PORT: expected a port number from 0 to 65535, got "abc"'],
    ['METRICS_PORT', '70000', 'METRICS_PORT: expected a port number from 0 to 65535, got "70000"'],
    [
      'METRICS_PORT',
      '',
      'METRICS_PORT: expected a port number from 0 to 65535, got an empty string',
    ],
    ['METRICS_HOST', ' ', 'METRICS_HOST: expected a non-empty value, got " "'],
  ])('refuses %s=%j with a message naming it', (name, value, message) => {
    const attempt = () => readMetricsConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});

describe('readLiveConfig', () => {
  it('has the documented defaults', () => {
    const config = readLiveConfig({});
    expect(config).toMatchObject({
      symbols: ['BTCUSDT', 'ETHUSDT'],
      exchangeUrl: 'wss://stream.binance.com:9443',
      restUrl: 'https://api.binance.com',
      databaseUrl: undefined,
      redisUrl: undefined,
      metrics: { host: '0.0.0.0', port: 9090 },
      resumeMaxTrades: 100_000,
      readyMaxGapMs: 30_000,
    });
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });

  it('prefers flags to the environment', () => {
    const config = readLiveConfig(
      { SYMBOLS: 'ETHUSDT', BINANCE_WS_URL: 'ws://127.0.0.1:1' },
      { symbols: 'solusdt, btcusdt,solusdt', exchangeUrl: 'ws://127.0.0.1:9443/' },
    );
    expect(config.symbols).toEqual(['SOLUSDT', 'BTCUSDT']);
    expect(config.exchangeUrl).toBe('ws://127.0.0.1:9443');
  });

  it.each([
    [{ SYMBOLS: '' }, {}, 'SYMBOLS: expected a comma-separated list'],
    [{ SYMBOLS: 'BTCUSDT,,ETHUSDT' }, {}, 'SYMBOLS: expected a comma-separated list'],
    [{}, { symbols: 'BTC-USDT' }, '--symbols: expected symbols of 2 to 30 letters or digits'],
    [{ BINANCE_WS_URL: 'http://x' }, {}, 'BINANCE_WS_URL: expected a ws:// or wss:// URL'],
    [{}, { exchangeUrl: 'nope' }, '--exchange-url: expected a ws:// or wss:// URL'],
    [{ BINANCE_REST_URL: '' }, {}, 'BINANCE_REST_URL: expected a http:// or https:// URL'],
    [
      { DATABASE_URL: 'mysql://x' },
      {},
      'DATABASE_URL: expected a postgres:// or postgresql:// URL',
    ],
    [{ REDIS_URL: '' }, {}, 'REDIS_URL: expected a redis:// or rediss:// URL'],
    [{ DATA_DIR: '' }, {}, 'DATA_DIR: expected a non-empty value'],
    [{ RESUME_MAX_TRADES: '' }, {}, 'RESUME_MAX_TRADES: expected an integer from 1 to 10000000'],
    [
      { READY_MAX_GAP_SECONDS: '0' },
      {},
      'READY_MAX_GAP_SECONDS: expected an integer from 1 to 86400',
    ],
    [{ RESUME_MAX_TRADES: '0' }, {}, 'RESUME_MAX_TRADES: expected an integer from 1 to 10000000'],
    [
      { MAX_BUFFERED_TICKS: '999' },
      {},
      'MAX_BUFFERED_TICKS: expected an integer from 1000 to 10000000',
    ],
    [{ RESUME_MAX_TRADES: '1e5' }, {}, 'RESUME_MAX_TRADES: expected an integer from 1 to 10000000'],
    [{ BOOK_SNAPSHOT_MS: '99' }, {}, 'BOOK_SNAPSHOT_MS: expected an integer from 100 to 3600000'],
    [{ RETENTION_DAYS: '0' }, {}, 'RETENTION_DAYS: expected an integer from 1 to 36500'],
    [{ RETENTION_DAYS: '7d' }, {}, 'RETENTION_DAYS: expected an integer from 1 to 36500'],
    [{ ARCHIVE_DIR: ' ' }, {}, 'ARCHIVE_DIR: expected a non-empty value'],
    [
      { RESUME_MAX_TRADES: '10000001' },
      {},
      'RESUME_MAX_TRADES: expected an integer from 1 to 10000000',
    ],
  ])('refuses %j %j naming the setting', (env, flags, message) => {
    expect(() => readLiveConfig(env, flags)).toThrow(message);
  });

  it('keeps everything unless RETENTION_DAYS is set, and archives only with ARCHIVE_DIR', () => {
    expect(readLiveConfig({})).toMatchObject({ retentionDays: undefined, archiveDir: undefined });
    const config = readLiveConfig({ RETENTION_DAYS: '30', ARCHIVE_DIR: 'cold' });
    expect(config.retentionDays).toBe(30);
    expect(config.archiveDir).toBe(resolve('cold'));
  });

  it('reads the resume window', () => {
    expect(readLiveConfig({ RESUME_MAX_TRADES: ' 2500 ' }).resumeMaxTrades).toBe(2500);
  });

  it('reads how often book snapshots are taken', () => {
    expect(readLiveConfig({}).bookSnapshotMs).toBe(1000);
    expect(readLiveConfig({ BOOK_SNAPSHOT_MS: '250' }).bookSnapshotMs).toBe(250);
  });

  it('reads the memory bound of ticks waiting for the disk', () => {
    expect(readLiveConfig({}).maxBufferedTicks).toBe(100_000);
    expect(readLiveConfig({ MAX_BUFFERED_TICKS: '5000' }).maxBufferedTicks).toBe(5000);
  });

  it('never echoes a password in an error', () => {
    expect(() => readLiveConfig({ DATABASE_URL: 'mysql://app:s3cret@db/x' })).toThrow(
      'got "mysql://app:***@db/x"',
    );
  });
});

describe('readLogLevel', () => {
  it('defaults to info and reads any pino level', () => {
    expect(readLogLevel({})).toBe('info');
    expect(readLogLevel({ LOG_LEVEL: ' DEBUG ' })).toBe('debug');
    expect(readLogLevel({ LOG_LEVEL: 'silent' })).toBe('silent');
  });

  it.each(['loud', '', '30'])('refuses LOG_LEVEL=%j naming it', (value) => {
    expect(() => readLogLevel({ LOG_LEVEL: value })).toThrow(
      /^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got /,
    );
  });
});

describe('URL settings that do not parse', () => {
  it.each([
    ['DATABASE_URL', 'postgres://user:s3cret@host:badport/db'],
    ['DATABASE_URL', 'postgres://user:s3cret@[::1/db'],
    ['DATABASE_URL', 'user:s3cret@host/db'],
    ['REDIS_URL', 'redis://:s3cret@[bad'],
    ['BINANCE_WS_URL', 'wss://key:s3cret@stream binance com'],
    ['BINANCE_REST_URL', 'ftp://key:s3cret@host'],
  ])('%s=%j is refused by name without its password', (name, value) => {
    const attempt = () => readLiveConfig({ [name]: value });
    expect(attempt).toThrow(new RegExp(`^${name}: expected a `));
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
      expect((error as Error).message).toContain(':***@');
    }
  });
});

describe('readLogFormat', () => {
  it('is readable on a terminal and JSON when piped, unless LOG_FORMAT says', () => {
    expect(readLogFormat({}, true)).toBe('pretty');
    expect(readLogFormat({}, false)).toBe('json');
    expect(readLogFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(readLogFormat({ LOG_FORMAT: ' Pretty ' }, false)).toBe('pretty');
    expect(() => readLogFormat({ LOG_FORMAT: 'text' }, true)).toThrow(
      'LOG_FORMAT: expected json or pretty',
    );
  });
});
