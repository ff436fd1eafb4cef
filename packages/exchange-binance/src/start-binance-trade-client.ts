import { BinanceTradeClient } from './binance-trade-client.js';
import type { BinanceTradeClientOptions } from './client-options.js';

/**
 * Creates a {@link BinanceTradeClient} and opens its connections: the one
 * way the packages start what does I/O (`startX(options)`, released with
 * `close()`). Resolves at once; connection events come through the client's
 * iterator. Options are checked here: a bad one rejects with a `ConfigError`
 * naming it.
 *
 * @example
 * ```ts
 * const client = await startBinanceTradeClient({
 *   url: 'wss://stream.binance.com:9443', restUrl: 'https://api.binance.com',
 *   symbols: ['BTCUSDT', 'ETHUSDT'], metrics, logger,
 * });
 * for await (const event of client) {
 *   if (event.type === 'tick') store(event.tick);
 * }
 * await client.close();
 * ```
 */
export function startBinanceTradeClient(
  options: BinanceTradeClientOptions,
): Promise<BinanceTradeClient> {
  // A bad option rejects rather than throws: the caller awaits either way.
  return Promise.resolve().then(() => {
    const client = new BinanceTradeClient(options);
    client.start();
    return client;
  });
}
