import { MarketDataService } from './market-data-service.js';
import type { MarketDataServiceOptions } from './market-data-service-types.js';

/**
 * Opens the spool (replaying what an earlier run left there) and starts the
 * service's writers: the packages' one idiom for what does I/O
 * (`await startX(options)`, released with `close()`). The same as
 * `MarketDataService.start(options)`.
 *
 * @example
 * ```ts
 * const service = await startMarketDataService({ repository, spoolDir: './data/spool', metrics });
 * for await (const tick of ticks) {
 *   while (!service.offer(tick)) await service.whenWritable();
 * }
 * const { lostTicks } = await service.close();
 * ```
 */
export function startMarketDataService(
  options: MarketDataServiceOptions,
): Promise<MarketDataService> {
  return MarketDataService.start(options);
}
