import { ConfigError } from '@trade/core';
import { rsiStrategy } from './rsi.js';
import { smaCrossover } from './sma-crossover.js';
import type { StrategyDefinition } from './strategy.js';

/** Options a strategy takes by name: numbers, or strings as a CLI passes them. */
export type StrategyOptions = Readonly<Record<string, number | string | undefined>>;

/** The strategies {@link strategyByName} knows, with a line describing each. */
export const STRATEGIES = {
  sma: {
    description: 'SMA crossover: fast (default 5) over slow (default 20) tick averages',
    create: (options: StrategyOptions) => smaCrossover(options),
  },
  rsi: {
    description: "RSI, Wilder's smoothing: period 14, BUY below 30, SELL above 70",
    create: (options: StrategyOptions) => rsiStrategy(options),
  },
} as const satisfies Record<
  string,
  { description: string; create(options: StrategyOptions): StrategyDefinition }
>;

/** A name {@link strategyByName} accepts. */
export type StrategyName = keyof typeof STRATEGIES;

/** The names {@link strategyByName} accepts, in a fixed order. */
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as readonly StrategyName[];

/** A strategy name that is not registered; `known` lists those that are. */
export class UnknownStrategyError extends ConfigError {
  /** The registered names, e.g. `['sma', 'rsi']`. */
  readonly known: readonly string[];

  constructor(setting: string, value: unknown) {
    super(setting, value, `one of ${STRATEGY_NAMES.join(', ')}`);
    this.name = 'UnknownStrategyError';
    this.known = STRATEGY_NAMES;
  }
}

/**
 * The strategy registered as `name` (case-insensitive), built with `options`.
 * Throws {@link UnknownStrategyError} listing the known names, or
 * {@link ConfigError} naming a bad option (e.g. `sma.fast`).
 *
 * @example
 * ```ts
 * strategyByName('sma', { fast: 10, slow: 50 });
 * strategyByName('macd'); // UnknownStrategyError: strategy: expected one of sma, rsi, got "macd"
 * ```
 */
export function strategyByName(
  name: string,
  options: StrategyOptions = {},
  setting = 'strategy',
): StrategyDefinition {
  const key = typeof name === 'string' ? name.trim().toLowerCase() : name;
  if (!Object.hasOwn(STRATEGIES, key)) throw new UnknownStrategyError(setting, name);
  return STRATEGIES[key as StrategyName].create(options);
}
