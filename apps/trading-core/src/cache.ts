import type { Logger } from '@trade/core';
import { TickCache } from '@trade/market-data';
import type { TradingMetrics } from '@trade/metrics';
import { Redis } from 'ioredis';
import { redactUrl } from './secrets.js';

/** The hot tick cache and what it holds on to. */
export interface AppCache {
  readonly cache: TickCache;
  /** `memory` or the Redis URL without secrets. */
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Memory-only without `REDIS_URL`; otherwise memory in front of Redis. A
 * Redis that is down at start is not fatal: the cache counts failures and
 * catches up when it returns.
 */
export function openCache(options: {
  redisUrl: string | undefined;
  metrics: TradingMetrics;
  logger: Logger;
}): AppCache {
  if (!options.redisUrl) {
    const cache = new TickCache({ metrics: options.metrics, logger: options.logger });
    return { cache, description: 'memory', close: () => cache.close() };
  }
  const redis = new Redis(options.redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // ioredis ends a command that got no answer: the cache counts it as a failed update.
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    // ioredis reports every failed reconnect; one line per 10 s is enough.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    options.logger.warn({ err: error.message }, 'redis unavailable; cache continues in memory');
  });
  const cache = new TickCache({ redis, metrics: options.metrics, logger: options.logger });
  return {
    cache,
    description: redactUrl(options.redisUrl),
    async close() {
      await cache.close();
      redis.disconnect();
    },
  };
}
