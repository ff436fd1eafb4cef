import { ConfigError } from '@trade/core';
import { DEFAULT_CONSUMER } from '@trade/bus';
import { strategyByName, type StrategyDefinition } from '@trade/paper-engine';
import { readBusConfig, type BusConfig } from './bus-config.js';
import { readLiveConfig, type LiveConfig } from './config.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Everything `paper` needs: the bus, its own consumer, the strategy, and where fills go. */
export interface PaperConfig extends Pick<
  LiveConfig,
  'databaseUrl' | 'redisUrl' | 'dataDir' | 'metrics' | 'restUrl'
> {
  /** The bus; its `consumer` is paper's own (`paper-<strategy>` unless NATS_CONSUMER says). */
  readonly bus: BusConfig;
  readonly strategy: StrategyDefinition;
  /** The symbols traded; undefined: every symbol on the bus. */
  readonly symbols: readonly string[] | undefined;
}

/** Flags of `paper` that override the environment. */
export interface PaperFlags {
  readonly nats?: string | undefined;
  readonly strategy?: string | undefined;
  readonly symbols?: string | undefined;
}

/**
 * Reads `paper`'s settings: the bus, the strategy (`sma` by default), the
 * symbols (`--symbols` or `SYMBOLS`; unset: all), and the storage settings
 * `live` reads. The consumer is `paper-<strategy>` unless `NATS_CONSUMER`
 * names another; the writers' consumer (`store`) is refused, since acking
 * there would take ticks from the writers.
 */
export function readPaperConfig(env: Env, flags: PaperFlags = {}): PaperConfig {
  const bus = readBusConfig(env, flags);
  const strategy = strategyByName(flags.strategy ?? 'sma', {}, '--strategy');
  const consumer = env.NATS_CONSUMER === undefined ? `paper-${strategy.name}` : bus.consumer;
  if (consumer === DEFAULT_CONSUMER) {
    throw new ConfigError(
      'NATS_CONSUMER',
      env.NATS_CONSUMER,
      `a consumer of paper's own, not the writers' (${DEFAULT_CONSUMER}); unset it for paper-${strategy.name}`,
    );
  }
  const live = readLiveConfig(env, { symbols: flags.symbols });
  const explicit = flags.symbols !== undefined || env.SYMBOLS !== undefined;
  return {
    bus: { ...bus, consumer },
    strategy,
    symbols: explicit ? live.symbols : undefined,
    databaseUrl: live.databaseUrl,
    redisUrl: live.redisUrl,
    dataDir: live.dataDir,
    metrics: live.metrics,
    // Where the symbols' exchange rules are read (exchangeInfo).
    restUrl: live.restUrl,
  };
}
