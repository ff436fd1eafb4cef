import { ParquetArchive, StorageRetention, type RetentionReport } from '@trade/market-data';
import type { Logger as LibraryLogger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { Logger } from 'pino';
import type { LiveConfig } from './config.js';
import type { Resource } from './resources.js';
import type { Storage } from './storage.js';

/** How often retention runs after the pass at start. */
export const RETENTION_INTERVAL_MS = 3_600_000;

/**
 * Opens the Parquet archive of `ARCHIVE_DIR`, if set (`undefined` without
 * it), pushing it onto `resources` so it is closed at stop.
 */
export async function openArchive(
  config: { readonly archiveDir?: string | undefined },
  logger: LibraryLogger,
  resources?: Resource[],
): Promise<ParquetArchive | undefined> {
  if (config.archiveDir === undefined) return undefined;
  const archive = await ParquetArchive.open({ dir: config.archiveDir, logger });
  resources?.push({ name: 'archive', close: () => archive.close() });
  return archive;
}

/**
 * Starts the storage keeper of a writing process (`live`, `store`): a pass
 * at start, in the background so ingest starts at once, then hourly. Each
 * pass makes today's and tomorrow's partitions, and with `RETENTION_DAYS`
 * drops the days wholly older, each archived and checked first when
 * `ARCHIVE_DIR` is set. Returns the pass at start, for whoever waits on it.
 */
export async function startStorageLife(options: {
  readonly storage: Storage;
  readonly config: Pick<LiveConfig, 'retentionDays' | 'archiveDir'>;
  readonly metrics: TradingMetrics;
  readonly logger: Logger;
  readonly resources: Resource[];
}): Promise<{ readonly firstPass: Promise<RetentionReport | undefined> }> {
  const { storage, config, logger, resources } = options;
  const log = logger.child({ component: 'retention' });
  if (config.archiveDir !== undefined && config.retentionDays === undefined) {
    log.warn(
      { archiveDir: config.archiveDir },
      'ARCHIVE_DIR is set without RETENTION_DAYS: no day leaves the database, so none is archived',
    );
  }
  const archive =
    config.retentionDays === undefined
      ? undefined
      : await openArchive(config, logger.child({ component: 'archive' }), resources);
  const retention = new StorageRetention({
    db: storage.db,
    logger: log,
    retentionDays: config.retentionDays,
    archive,
    candles: storage.candles,
    metrics: options.metrics,
  });
  resources.push({ name: 'storage retention', close: () => retention.close() });
  const firstPass = retention.run().then(
    (report) => {
      log.info(
        {
          retentionDays: config.retentionDays ?? 'unset (keep everything)',
          dropped: report.dropped.length,
          failed: report.failed.length,
          kept: report.kept,
        },
        'storage pass done: partitions ready, old days dropped',
      );
      return report;
    },
    (error: unknown) => {
      log.error({ err: error }, 'storage pass failed; the next hourly pass tries again');
      options.metrics.errors.inc({ component: 'database' });
      return undefined;
    },
  );
  retention.start(RETENTION_INTERVAL_MS);
  return { firstPass };
}
