import { TradeError, type Logger } from '@trade/core';
import { startBinanceSimulator } from '@trade/exchange-binance/sim';

/** Options of `trading-core sim`. */
export interface SimOptions {
  readonly host: string;
  readonly port: number;
  readonly rate: number | 'max';
  readonly symbols: readonly string[];
  readonly seed: number;
  readonly logger: Logger;
  readonly stopSignal: Promise<void>;
}

/** Serves the Binance stream and REST shapes on loopback until asked to stop. */
export async function runSim(options: SimOptions): Promise<void> {
  const sim = await startBinanceSimulator({
    host: options.host,
    port: options.port,
    rate: options.rate,
    symbols: options.symbols,
    seed: options.seed,
    logger: options.logger,
  }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new TradeError(
      `--port: cannot serve on ${options.host}:${options.port} (${code}); pick another --port or --host`,
      { cause: error },
    );
  });
  options.logger.info(
    {
      ws: sim.url,
      rest: sim.restUrl,
      symbols: sim.symbols,
      rate: options.rate,
      seed: options.seed,
    },
    `SIMULATED Binance serving ${sim.url}/stream?streams=... and ${sim.restUrl}/api/v3/historicalTrades`,
  );
  await options.stopSignal;
  await sim.close();
  options.logger.info({}, 'simulator stopped');
}
