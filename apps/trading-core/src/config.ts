import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, normalizeSymbol } from '@trade/core';
import { redactUrl } from './secrets.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Settings of the metrics exporter, from `METRICS_HOST` and `METRICS_PORT`. */
export interface MetricsConfig {
  readonly host: string;
  readonly port: number;
}

/** Everything `live` needs, validated. */
export interface LiveConfig {
  readonly symbols: readonly string[];
  readonly exchangeUrl: string;
  readonly restUrl: string;
  /** PostgreSQL URL; undefined means embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** Redis URL; undefined means the in-process memory cache. */
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly metrics: MetricsConfig;
  /**
   * Most trades recovered per symbol over REST when a restart resumes from
   * the last stored trade id; older missed trades are counted as unrecovered.
   */
  readonly resumeMaxTrades: number;
  /** `/ready` fails while a gap in trade ids stays unfilled this long. */
  readonly readyMaxGapMs: number;
  /**
   * Ticks held in memory for the spool while the disk refuses them and the
   * database does not keep up; beyond it ingest blocks (the exchange stream
   * pauses, its gap is backfilled later).
   */
  readonly maxBufferedTicks: number;
  /** With the `depth` channel: each symbol's top 20 levels go to `book_snapshots` this often. */
  readonly bookSnapshotMs: number;
  /** Days of ticks and quotes kept in the database (`RETENTION_DAYS`); unset keeps everything. */
  readonly retentionDays: number | undefined;
  /** Where days go as Parquet before retention drops them (`ARCHIVE_DIR`). */
  readonly archiveDir: string | undefined;
}

/** Flags that override the environment. */
export interface LiveFlags {
  readonly symbols?: string | undefined;
  readonly exchangeUrl?: string | undefined;
}

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
export const DEFAULT_EXCHANGE_URL = 'wss://stream.binance.com:9443';
export const DEFAULT_REST_URL = 'https://api.binance.com';
export const DEFAULT_RESUME_MAX_TRADES = 100_000;

/**
 * Reads and validates the exporter settings. A variable that is set but
 * invalid (empty included) throws a ConfigError naming it.
 */
export function readMetricsConfig(env: Env): MetricsConfig {
  return {
    host: readString(env, 'METRICS_HOST', '0.0.0.0'),
    port: readPort(env, 'METRICS_PORT', 9090),
  };
}

/** Reads the whole `live` configuration: flags first, then the environment, then defaults. */
export function readLiveConfig(env: Env, flags: LiveFlags = {}): LiveConfig {
  const symbols =
    flags.symbols !== undefined
      ? parseSymbols(flags.symbols, '--symbols')
      : env.SYMBOLS !== undefined
        ? parseSymbols(env.SYMBOLS, 'SYMBOLS')
        : [...DEFAULT_SYMBOLS];
  const exchangeUrl =
    flags.exchangeUrl !== undefined
      ? parseUrl(flags.exchangeUrl, '--exchange-url', ['ws:', 'wss:'])
      : readUrl(env, 'BINANCE_WS_URL', DEFAULT_EXCHANGE_URL, ['ws:', 'wss:']);
  return {
    symbols,
    exchangeUrl,
    restUrl: readUrl(env, 'BINANCE_REST_URL', DEFAULT_REST_URL, ['http:', 'https:']),
    databaseUrl: readOptionalUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: readOptionalUrl(env, 'REDIS_URL', ['redis:', 'rediss:']),
    dataDir: resolve(readString(env, 'DATA_DIR', './data')),
    metrics: readMetricsConfig(env),
    resumeMaxTrades: readInteger(
      env,
      'RESUME_MAX_TRADES',
      DEFAULT_RESUME_MAX_TRADES,
      1,
      MAX_RESUME_TRADES,
    ),
    readyMaxGapMs: readInteger(env, 'READY_MAX_GAP_SECONDS', 30, 1, 86_400) * 1000,
    maxBufferedTicks: readInteger(env, 'MAX_BUFFERED_TICKS', 100_000, 1_000, 10_000_000),
    bookSnapshotMs: readInteger(env, 'BOOK_SNAPSHOT_MS', 1000, 100, 3_600_000),
    ...readStorageLifeConfig(env),
  };
}

/** `RETENTION_DAYS` and `ARCHIVE_DIR`: how long data stays in the database, and where it goes then. */
export function readStorageLifeConfig(env: Env): Pick<LiveConfig, 'retentionDays' | 'archiveDir'> {
  return {
    retentionDays:
      env.RETENTION_DAYS === undefined
        ? undefined
        : readInteger(env, 'RETENTION_DAYS', 0, 1, MAX_RETENTION_DAYS),
    archiveDir:
      env.ARCHIVE_DIR === undefined ? undefined : resolve(readString(env, 'ARCHIVE_DIR', '')),
  };
}

// A century: beyond it, leave RETENTION_DAYS unset.
const MAX_RETENTION_DAYS = 36_500;

// Beyond this a restart would page through REST for hours (1000 trades a request).
const MAX_RESUME_TRADES = 10_000_000;

function parseSymbols(raw: string, name: string): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (raw.trim() === '' || parts.some((p) => p === '')) {
    throw new ConfigError(name, raw, 'a comma-separated list of symbols such as BTCUSDT,ETHUSDT');
  }
  const symbols = parts.map((part) => {
    try {
      return normalizeSymbol(part);
    } catch {
      throw new ConfigError(name, raw, `symbols of 2 to 30 letters or digits ("${part}" is not)`);
    }
  });
  return [...new Set(symbols)];
}

function readString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (raw.trim() === '') throw new ConfigError(name, raw, 'a non-empty value');
  return raw.trim();
}

function readPort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const port = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(name, raw, 'a port number from 0 to 65535');
  }
  return port;
}

function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function readUrl(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name];
  return raw === undefined ? fallback : parseUrl(raw, name, protocols);
}

function readOptionalUrl(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  return raw === undefined ? undefined : parseUrl(raw, name, protocols);
}

function parseUrl(raw: string, name: string, protocols: string[]): string {
  const expected = `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`;
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    throw new ConfigError(name, redactUrl(raw), expected);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, redactUrl(raw), expected);
  return raw.trim().replace(/\/+$/, '');
}

/** pino's levels, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `LOG_LEVEL`, validated: pino's own error would not name the variable. */
export function readLogLevel(env: Env): (typeof LOG_LEVELS)[number] {
  const raw = env.LOG_LEVEL;
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS.find((l) => l === raw.trim().toLowerCase());
  if (level === undefined)
    throw new ConfigError('LOG_LEVEL', raw, `one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/** How log lines are written: JSON lines, or one readable line per event. */
export const LOG_FORMATS = ['json', 'pretty'] as const;

/**
 * `LOG_FORMAT`: `json` or `pretty` when set; unset, readable lines on a
 * terminal (`toTerminal`) and JSON lines when piped (log shippers read them).
 */
export function readLogFormat(env: Env, toTerminal: boolean): (typeof LOG_FORMATS)[number] {
  const raw = env.LOG_FORMAT;
  if (raw === undefined) return toTerminal ? 'pretty' : 'json';
  const format = LOG_FORMATS.find((f) => f === raw.trim().toLowerCase());
  if (format === undefined) throw new ConfigError('LOG_FORMAT', raw, 'json or pretty');
  return format;
}

/** An integer flag within [min, max], or `fallback` when not given. */
export function readPositiveIntegerFlag(
  raw: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(flag, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** A rate flag: a positive number of trades per second, or `max`. */
export function readRate(raw: string | undefined, flag: string, fallback: number): number | 'max' {
  if (raw === undefined) return fallback;
  if (raw.trim() === 'max') return 'max';
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(flag, raw, 'a positive number of trades per second, or max');
  }
  return value;
}

/**
 * Creates `DATA_DIR` if needed and checks the process may write there, so a
 * bad directory stops the app at start naming the setting, not later with a
 * bare ENOENT from the spool or the embedded database.
 */
export async function checkDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(
      'DATA_DIR',
      dir,
      `a directory this process can create and write (${code})`,
    );
  }
}
