import { ConfigError } from '@trade/core';
import { DEFAULT_CONSUMER } from '@trade/bus';
import type { StrategyDefinition } from '@trade/paper-engine';
import { readBusConfig, type BusConfig } from './bus-config.js';
import { readLiveConfig, type LiveConfig } from './config.js';
import { loadStrategy } from './strategy-loader.js';

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
  /** A built-in name or the path of a strategy module. */
  readonly strategy?: string | undefined;
  /** `--strategy-options`: `key=value,...`. */
  readonly strategyOptions?: string | undefined;
  readonly symbols?: string | undefined;
}

/**
 * Reads `paper`'s settings: the bus, the strategy (`sma` by default, a
 * module's when `--strategy` is a path, loaded here), the symbols
 * (`--symbols` or `SYMBOLS`; unset: all), and the storage settings `live`
 * reads. The consumer is `paper-<strategy name>` unless `NATS_CONSUMER`
 * names another; the writers' consumer (`store`) is refused, since acking
 * there would take ticks from the writers.
 */
export async function readPaperConfig(env: Env, flags: PaperFlags = {}): Promise<PaperConfig> {
  const bus = readBusConfig(env, flags);
  const live = readLiveConfig(env, { symbols: flags.symbols });
  const explicit = flags.symbols !== undefined || env.SYMBOLS !== undefined;
  const strategy = await loadStrategy(
    flags.strategy ?? 'sma',
    flags.strategyOptions,
    '--strategy',
    explicit ? live.symbols[0] : undefined,
  );
  const own = paperConsumer(strategy.name);
  const consumer = env.NATS_CONSUMER === undefined ? own : bus.consumer;
  if (consumer === DEFAULT_CONSUMER) {
    throw new ConfigError(
      'NATS_CONSUMER',
      env.NATS_CONSUMER,
      `a consumer of paper's own, not the writers' (${DEFAULT_CONSUMER}); unset it for ${own}`,
    );
  }
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

/**
 * `paper-<name>`, the name made a valid NATS consumer name: a module's
 * strategy may be called anything, the consumer only letters, digits, - and _.
 */
export function paperConsumer(strategyName: string): string {
  return `paper-${strategyName.trim().replace(/[^A-Za-z0-9_-]+/g, '-')}`.slice(0, 255);
}
