import {
  startBinanceTradeClient,
  type BinanceTradeClient,
  type MarketChannel,
} from '@trade/exchange-binance';
import { startBinanceSimulator } from '@trade/exchange-binance/sim';
import type { TradingMetrics } from '@trade/metrics';
import type { Logger } from 'pino';
import type { Resource } from './resources.js';

/** Where the exchange client connects: Binance (the configured URLs), or the built-in simulator. */
export interface ExchangeEndpoints {
  readonly exchangeUrl: string;
  readonly restUrl: string;
}

/**
 * The configured exchange URLs, or, with `sim`, a simulator started on
 * loopback (pushed onto `resources`). A restarted simulator must not reuse
 * trade ids already stored or published: it continues after the highest of
 * `resume`, and, being a fresh exchange, has nothing to backfill.
 */
export async function exchangeEndpoints(options: {
  readonly config: {
    readonly exchangeUrl: string;
    readonly restUrl: string;
    readonly symbols: readonly string[];
  };
  readonly sim: boolean;
  readonly simRate: number | 'max';
  readonly resume: ReadonlyMap<string, number>;
  readonly logger: Logger;
  readonly libraryLogger: Logger;
  readonly resources: Resource[];
}): Promise<ExchangeEndpoints> {
  const { config, resume, logger } = options;
  if (!options.sim) return { exchangeUrl: config.exchangeUrl, restUrl: config.restUrl };
  const sim = await startBinanceSimulator({
    host: '127.0.0.1',
    port: 0,
    symbols: [...config.symbols],
    rate: options.simRate,
    seed: Date.now() % 2 ** 31,
    ...(resume.size > 0 ? { firstTradeId: Math.max(...resume.values()) + 1 } : {}),
    logger: options.libraryLogger.child({ component: 'simulator' }),
  });
  options.resources.push({ name: 'simulator', close: () => sim.close() });
  logger.warn(
    { exchange: sim.url, rate: options.simRate },
    'SIMULATED exchange: trades come from the built-in Binance simulator on loopback, not from Binance',
  );
  return { exchangeUrl: sim.url, restUrl: sim.restUrl };
}

/**
 * Starts the exchange client on `endpoints` for the configured symbols,
 * resuming after `resumeFrom` (pushed onto `resources`). Its events wait in
 * its queue until the caller reads them.
 */
export async function startExchangeClient(options: {
  readonly config: { readonly symbols: readonly string[]; readonly resumeMaxTrades: number };
  readonly endpoints: ExchangeEndpoints;
  readonly resumeFrom: Readonly<Record<string, number>>;
  /** What to stream per symbol; trades only when unset. */
  readonly channels?: readonly MarketChannel[];
  readonly metrics: TradingMetrics;
  readonly libraryLogger: Logger;
  readonly resources: Resource[];
}): Promise<BinanceTradeClient> {
  const client = await startBinanceTradeClient({
    url: options.endpoints.exchangeUrl,
    restUrl: options.endpoints.restUrl,
    symbols: [...options.config.symbols],
    metrics: options.metrics,
    logger: options.libraryLogger.child({ component: 'exchange' }),
    resumeFrom: options.resumeFrom,
    maxResumeTrades: options.config.resumeMaxTrades,
    ...(options.channels ? { channels: options.channels } : {}),
  });
  options.resources.push({ name: 'exchange client', close: () => client.close() });
  return client;
}
