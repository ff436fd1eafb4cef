import { ConfigError, isDecimalString, type SymbolRules } from '@trade/core';
import {
  DEFAULT_QUANTITY_STEP,
  NO_STEP,
  ZERO,
  exact,
  step,
  type Exact,
  type Step,
} from './money.js';

/**
 * Where the engine finds a symbol's exchange rules: a map by symbol (e.g.
 * built from `exchangeInfo`) or a function. A symbol without rules trades
 * without them: quantities cut only to the exchange's 8 decimals, no minimum.
 */
export type SymbolRulesSource =
  ReadonlyMap<string, SymbolRules> | ((symbol: string) => SymbolRules | undefined);

/** {@link SymbolRules} as exact decimals. A zero `tickSize` or `stepSize` disables it, as on Binance. */
export interface OrderRules {
  readonly tickSize: Step;
  readonly stepSize: Step;
  readonly minQty: Exact;
  readonly minNotional: Exact;
}

/** No rules: the exchange's 8 decimals for quantities, nothing else. */
export const NO_RULES: OrderRules = {
  tickSize: NO_STEP,
  stepSize: DEFAULT_QUANTITY_STEP,
  minQty: ZERO,
  minNotional: ZERO,
};

const compiled = new WeakMap<SymbolRules, OrderRules>();

/**
 * `rules` as exact decimals, parsed once per rules object. Throws
 * {@link ConfigError} naming the field that is not a decimal string.
 */
export function orderRules(rules: SymbolRules | undefined): OrderRules {
  if (rules === undefined) return NO_RULES;
  let found = compiled.get(rules);
  if (found === undefined) {
    const field = (name: 'tickSize' | 'stepSize' | 'minQty' | 'minNotional'): Exact => {
      const value = rules[name];
      if (!isDecimalString(value)) {
        throw new ConfigError(`rules.${rules.symbol}.${name}`, value, 'a decimal string');
      }
      return exact(value);
    };
    const stepSize = field('stepSize');
    found = {
      tickSize: step(field('tickSize')),
      stepSize: stepSize.isZero() ? DEFAULT_QUANTITY_STEP : step(stepSize),
      minQty: field('minQty'),
      minNotional: field('minNotional'),
    };
    compiled.set(rules, found);
  }
  return found;
}

/** The rules of `symbol` in `source`, or undefined. */
export function rulesOf(
  source: SymbolRulesSource | undefined,
  symbol: string,
): SymbolRules | undefined {
  if (source === undefined) return undefined;
  return typeof source === 'function' ? source(symbol) : source.get(symbol);
}
