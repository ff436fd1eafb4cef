import type { Logger } from '@trade/core';
import type { LiveConfig } from '../config.js';
import { openStorage } from '../storage.js';

/**
 * Applies the migrations, makes `candles_1m` true to every stored tick
 * (a full pass over `tick_data`), and exits.
 */
export async function runMigrate(
  config: Pick<LiveConfig, 'databaseUrl' | 'dataDir'>,
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const storage = await openStorage({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    logger,
    ...(signal ? { signal } : {}),
  });
  try {
    const written = await storage.candles.refreshAll();
    logger.info({ written }, 'one-minute candles true to the stored ticks');
  } finally {
    await storage.close();
  }
}
