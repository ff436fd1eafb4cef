import { join } from 'node:path';
import { startMarketDataService, type MarketDataService } from '@trade/market-data';
import type { TradingMetrics } from '@trade/metrics';
import type { Logger } from 'pino';
import { openCache, type AppCache } from './cache.js';
import type { Resource } from './resources.js';
import { openStorage, type Storage } from './storage.js';
import { startStorageLife } from './storage-life.js';

/** The bound on each statement of a long-running command's pool. */
export const STATEMENT_TIMEOUT_MS = 30_000;

/** What the ingest side of `live` and `store` is made of. */
export interface Ingest {
  readonly storage: Storage;
  readonly cache: AppCache;
  readonly service: MarketDataService;
}

/** Settings {@link openIngest} reads. */
export interface IngestSettings {
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly maxBufferedTicks: number;
  readonly retentionDays: number | undefined;
  readonly archiveDir: string | undefined;
}

/**
 * Opens the database (migrated) and the cache, pushing each onto
 * `resources` as it opens so that a failure further on still closes it.
 */
export async function openStorageAndCache(options: {
  readonly config: Pick<IngestSettings, 'databaseUrl' | 'redisUrl' | 'dataDir'>;
  readonly metrics: TradingMetrics;
  readonly libraryLogger: Logger;
  readonly resources: Resource[];
  readonly stopRequested?: AbortSignal | undefined;
}): Promise<{ readonly storage: Storage; readonly cache: AppCache }> {
  const { config, metrics, libraryLogger, resources } = options;
  const storage = await openStorage({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    metrics,
    logger: libraryLogger.child({ component: 'database' }),
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    ...(options.stopRequested ? { signal: options.stopRequested } : {}),
  });
  resources.push({ name: 'database', close: () => storage.close() });

  const cache = openCache({
    redisUrl: config.redisUrl,
    metrics,
    logger: libraryLogger.child({ component: 'cache' }),
  });
  resources.push({ name: 'cache', close: () => cache.close() });
  return { storage, cache };
}

/**
 * Opens the database (migrated), the cache and the market-data service
 * (batches, the spool under `DATA_DIR/spool`), pushing each onto
 * `resources` as it opens so that a failure further on still closes it.
 * Starts the storage keeper too: partitions ahead, retention and archive.
 */
export async function openIngest(options: {
  readonly config: IngestSettings;
  readonly metrics: TradingMetrics;
  readonly libraryLogger: Logger;
  readonly resources: Resource[];
  readonly stopRequested?: AbortSignal | undefined;
}): Promise<Ingest> {
  const { config, metrics, libraryLogger } = options;
  const { storage, cache } = await openStorageAndCache(options);
  await startStorageLife({
    storage,
    config,
    metrics,
    logger: libraryLogger,
    resources: options.resources,
  });
  const service = await startMarketDataService({
    repository: storage.ticks,
    cache: cache.cache,
    metrics,
    logger: libraryLogger.child({ component: 'market-data' }),
    spoolDir: join(config.dataDir, 'spool'),
    // At 20k ticks/s a 250 ms window alone puts p99 receipt-to-commit near 300 ms.
    flushIntervalMs: 100,
    writers: storage.tickWriters,
    maxBufferedTicks: config.maxBufferedTicks,
  });
  return { storage, cache, service };
}
