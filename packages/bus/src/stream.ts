import { ConfigError, TradeError, normalizeSymbol, silentLogger, type Logger } from '@trade/core';
import {
  JetStreamApiCodes,
  StorageType,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { DEFAULT_STREAM_SUBJECTS, TRADE_CHANNEL, subjectCovers, tradeSubject } from './subjects.js';
import { decodeTick } from './tick-codec.js';

/** The stream's name unless told otherwise (`NATS_STREAM` in the app). */
export const DEFAULT_STREAM = 'TRADES';

/** The shortest duplicate window a stream of the bus may have: 10 minutes. */
export const MIN_DUPLICATE_WINDOW_MS = 600_000;

/** Options of {@link ensureTradeStream}. */
export interface TradeStreamOptions {
  /** Default `TRADES`. */
  name?: string;
  /** Subjects the stream captures. Default `['md.binance.>']`. */
  subjects?: readonly string[];
  /**
   * How long JetStream remembers a `Nats-Msg-Id` to drop a repeat of it.
   * At least 10 minutes (the default); a publisher that replays its spool
   * after a longer outage relies on the consumers' own dedup beyond it.
   */
  duplicateWindowMs?: number;
  /** Copies of each message in a cluster. Default 1. */
  replicas?: number;
  /** Messages older than this are removed. Default 0: kept until removed otherwise. */
  maxAgeMs?: number;
  logger?: Logger;
}

/** What {@link ensureTradeStream} did. */
export interface EnsureTradeStreamResult {
  readonly name: string;
  /** The stream did not exist and was created. */
  readonly created: boolean;
  /** The stream existed with a shorter duplicate window, which was raised. */
  readonly updated: boolean;
  readonly info: StreamInfo;
}

const NANOS_PER_MS = 1_000_000;
const STREAM_NAME = /^[^.*>\s]{1,255}$/;

/**
 * Creates the stream of the bus if it is missing (file storage, the
 * duplicate window asked for), and checks one that exists: it must capture
 * the subjects asked for (else a `TradeError` names the stream and its
 * subjects), and a duplicate window shorter than the one asked for is
 * raised. Any number of processes may call it at once.
 *
 * @example
 * ```ts
 * const jsm = await jetstreamManager(nc);
 * const { created } = await ensureTradeStream(jsm, { name: 'TRADES' });
 * ```
 */
export async function ensureTradeStream(
  jsm: JetStreamManager,
  options: TradeStreamOptions = {},
): Promise<EnsureTradeStreamResult> {
  const config = streamConfig(options);
  const logger = options.logger ?? silentLogger;
  const existing = await streamInfo(jsm, config.name);
  if (existing === undefined) {
    try {
      const info = await jsm.streams.add({ ...config, storage: StorageType.File });
      logger.info({ stream: config.name, subjects: config.subjects }, 'bus: stream created');
      return { name: config.name, created: true, updated: false, info };
    } catch (error) {
      // Another process created it meanwhile: check theirs as an existing one.
      const raced = await streamInfo(jsm, config.name);
      if (raced === undefined) throw error;
      return checkExisting(jsm, raced, config, logger);
    }
  }
  return checkExisting(jsm, existing, config, logger);
}

/**
 * The id of the last message on each symbol's subject in `stream`: where a
 * collector resumes. A symbol with no message is absent. A last message
 * that is not a tick rejects with a `TradeError` naming its subject and
 * sequence: resuming past it would be a guess.
 *
 * @example
 * ```ts
 * const resumeFrom = await lastTradeIds(jsm, 'TRADES', ['BTCUSDT', 'ETHUSDT']);
 * resumeFrom.get('BTCUSDT') // 123456789, or undefined when the stream has none
 * ```
 */
export async function lastTradeIds(
  jsm: JetStreamManager,
  stream: string,
  symbols: readonly string[],
  channel: string = TRADE_CHANNEL,
): Promise<Map<string, number>> {
  const found = await Promise.all(
    symbols.map(async (raw) => {
      const symbol = normalizeSymbol(raw);
      const subject = tradeSubject(symbol, channel);
      const message = await jsm.streams.getMessage(stream, { last_by_subj: subject });
      if (message === null) return undefined;
      const decoded = decodeTick(message.data);
      if (!decoded.ok) {
        throw new TradeError(
          `bus: the last message on ${subject} in stream ${stream} (seq ${message.seq}) is not a tick: ${decoded.message}`,
        );
      }
      return [symbol, decoded.tick.tradeId] as const;
    }),
  );
  return new Map(found.filter((entry) => entry !== undefined));
}

interface WantedStream {
  name: string;
  subjects: string[];
  duplicate_window: number;
  num_replicas: number;
  max_age: number;
}

function streamConfig(options: TradeStreamOptions): WantedStream {
  const name = options.name ?? DEFAULT_STREAM;
  if (!STREAM_NAME.test(name)) {
    throw new ConfigError('name', name, 'a stream name without dots, wildcards or spaces');
  }
  const subjects = [...(options.subjects ?? DEFAULT_STREAM_SUBJECTS)];
  if (subjects.length === 0 || subjects.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new ConfigError('subjects', options.subjects, 'one or more subjects');
  }
  const windowMs = options.duplicateWindowMs ?? MIN_DUPLICATE_WINDOW_MS;
  if (!Number.isSafeInteger(windowMs) || windowMs < MIN_DUPLICATE_WINDOW_MS) {
    throw new ConfigError(
      'duplicateWindowMs',
      windowMs,
      `at least ${MIN_DUPLICATE_WINDOW_MS} ms (10 minutes), so a replayed tick is still recognised`,
    );
  }
  const replicas = options.replicas ?? 1;
  if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new ConfigError('replicas', replicas, 'an integer from 1 to 5');
  }
  const maxAgeMs = options.maxAgeMs ?? 0;
  if (!Number.isSafeInteger(maxAgeMs) || (maxAgeMs !== 0 && maxAgeMs < windowMs)) {
    throw new ConfigError('maxAgeMs', maxAgeMs, `0 (no limit) or at least duplicateWindowMs`);
  }
  return {
    name,
    subjects,
    duplicate_window: windowMs * NANOS_PER_MS,
    num_replicas: replicas,
    max_age: maxAgeMs * NANOS_PER_MS,
  };
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (isStreamNotFound(error)) return undefined;
    throw error;
  }
}

async function checkExisting(
  jsm: JetStreamManager,
  info: StreamInfo,
  wanted: WantedStream,
  logger: Logger,
): Promise<EnsureTradeStreamResult> {
  const { config } = info;
  // A mirror or a sourcing stream has no subjects of its own.
  const captured: readonly string[] = Array.isArray(config.subjects) ? config.subjects : [];
  const uncovered = wanted.subjects.filter(
    (subject) => !captured.some((pattern) => subjectCovers(pattern, subject)),
  );
  if (uncovered.length > 0) {
    throw new TradeError(
      `bus: stream ${wanted.name} exists with subjects ${JSON.stringify(captured)}, ` +
        `which do not capture ${uncovered.join(', ')}; add them to it or choose another stream`,
    );
  }
  if (config.storage !== StorageType.File) {
    logger.warn(
      { stream: wanted.name, storage: config.storage },
      'bus: the stream keeps its messages in memory; a server restart loses them',
    );
  }
  if (config.duplicate_window >= wanted.duplicate_window) {
    return { name: wanted.name, created: false, updated: false, info };
  }
  try {
    const updated = await jsm.streams.update(wanted.name, {
      duplicate_window: wanted.duplicate_window,
    });
    logger.info(
      {
        stream: wanted.name,
        fromMs: config.duplicate_window / NANOS_PER_MS,
        toMs: wanted.duplicate_window / NANOS_PER_MS,
      },
      'bus: duplicate window of the stream raised',
    );
    return { name: wanted.name, created: false, updated: true, info: updated };
  } catch (error) {
    throw new TradeError(
      `bus: stream ${wanted.name} has a duplicate window of ${config.duplicate_window / NANOS_PER_MS} ms, ` +
        `under the ${wanted.duplicate_window / NANOS_PER_MS} ms asked for, and raising it failed: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

function isStreamNotFound(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === JetStreamApiCodes.StreamNotFound
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
