import type { Logger } from '@trade/core';
import type { LiveConfig } from '../config.js';
import { openStorage } from '../storage.js';

/** Applies the migrations and exits. */
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
  await storage.close();
}
