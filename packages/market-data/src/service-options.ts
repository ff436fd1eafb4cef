import { ConfigError, type BackoffOptions } from '@trade/core';
import type { MarketDataServiceOptions } from './market-data-service-types.js';

/** The numbers of {@link MarketDataServiceOptions}, defaults applied, each checked. */
export interface ResolvedServiceOptions {
  readonly channelCapacity: number;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly writers: number;
  readonly maxRetries: number;
  readonly retryMaxDelayMs: number;
  readonly maxBufferedTicks: number;
  readonly insertTimeoutMs: number;
  /**
   * Inserts, spool appends and replays alike: doubling from the base up to
   * the ceiling, each delay between half and all of it.
   */
  readonly retry: BackoffOptions;
}

/**
 * Applies the defaults of `options` and checks each number, in order.
 * Throws a {@link ConfigError} naming the first bad one.
 *
 * @example
 * ```ts
 * resolveServiceOptions({ repository, spoolDir, batchSize: 0 });
 * // ConfigError: batchSize: expected a positive number, got 0
 * ```
 */
export function resolveServiceOptions(options: MarketDataServiceOptions): ResolvedServiceOptions {
  const channelCapacity = positive(options.channelCapacity ?? 10_000, 'channelCapacity');
  const batchSize = positive(options.batchSize ?? 5_000, 'batchSize');
  const flushIntervalMs = positive(options.flushIntervalMs ?? 250, 'flushIntervalMs');
  const writers = positiveInteger(options.writers ?? 1, 'writers');
  const maxRetries = nonNegative(options.maxRetries ?? 3, 'maxRetries');
  const retryBaseDelayMs = positive(options.retryBaseDelayMs ?? 100, 'retryBaseDelayMs');
  const retryMaxDelayMs = positive(options.retryMaxDelayMs ?? 5_000, 'retryMaxDelayMs');
  const maxBufferedTicks = positive(options.maxBufferedTicks ?? 100_000, 'maxBufferedTicks');
  const insertTimeoutMs = positive(options.insertTimeoutMs ?? 30_000, 'insertTimeoutMs');
  return {
    channelCapacity,
    batchSize,
    flushIntervalMs,
    writers,
    maxRetries,
    retryMaxDelayMs,
    maxBufferedTicks,
    insertTimeoutMs,
    retry: { initialMs: retryBaseDelayMs, maxMs: retryMaxDelayMs, factor: 2, jitter: 0.5 },
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(name, value, 'a positive number');
  }
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(name, value, 'a positive integer');
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(name, value, 'a non-negative integer');
  }
  return value;
}
