import { InvalidInputError, type SymbolRules } from '@trade/core';
import { formatQuantity } from './trade-history.js';

/** Units of 1e-8 in one: every simulated decimal is a whole number of them. */
export const UNITS_PER_ONE = 100_000_000;
/** One cent in 1e-8 units: the trade walk's price step. */
export const CENT_UNITS = 1_000_000;

/**
 * A symbol's exchange rules, as the simulator's options set them: exact
 * decimal strings with at most 8 decimals (`"0.01"` or `"0.01000000"`).
 * Every field has a default (see {@link DEFAULT_RULES}).
 */
export interface SimSymbolRulesOptions {
  /** `PRICE_FILTER.tickSize`: book prices are multiples of it. It must divide 0.01 or be a multiple of it. */
  tickSize?: string;
  /** `PRICE_FILTER.minPrice`. */
  minPrice?: string;
  /** `PRICE_FILTER.maxPrice`. */
  maxPrice?: string;
  /** `LOT_SIZE.stepSize`: book quantities are multiples of it. */
  stepSize?: string;
  /** `LOT_SIZE.minQty`. */
  minQty?: string;
  /** `LOT_SIZE.maxQty`. */
  maxQty?: string;
  /** `NOTIONAL.minNotional` (or `MIN_NOTIONAL.minNotional`). */
  minNotional?: string;
  /** `NOTIONAL.maxNotional`. */
  maxNotional?: string;
  /** `NOTIONAL.applyMinToMarket` (`MIN_NOTIONAL.applyToMarket`). Default `true`. */
  applyMinToMarket?: boolean;
  /** `NOTIONAL.applyMaxToMarket`. Default `false`. */
  applyMaxToMarket?: boolean;
  /**
   * Which filter carries the minimum notional: today's `NOTIONAL` (default)
   * or the older `MIN_NOTIONAL` some symbols still show.
   */
  notionalFilter?: 'NOTIONAL' | 'MIN_NOTIONAL';
}

/** The defaults of {@link SimSymbolRulesOptions}: BTCUSDT's rules. */
export const DEFAULT_RULES = {
  tickSize: '0.01000000',
  minPrice: '0.01000000',
  maxPrice: '1000000.00000000',
  stepSize: '0.00001000',
  minQty: '0.00001000',
  maxQty: '9000.00000000',
  minNotional: '5.00000000',
  maxNotional: '9000000.00000000',
  applyMinToMarket: true,
  applyMaxToMarket: false,
  notionalFilter: 'NOTIONAL',
} as const satisfies Required<SimSymbolRulesOptions>;

const DECIMAL_8 = /^(\d{1,10})(?:\.(\d{1,8}))?$/;
const DECIMAL_FIELDS = [
  'tickSize',
  'minPrice',
  'maxPrice',
  'stepSize',
  'minQty',
  'maxQty',
  'minNotional',
  'maxNotional',
] as const;
const QUOTE_ASSETS = ['USDT', 'FDUSD', 'USDC', 'TUSD', 'BUSD', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY'];

/**
 * One symbol's rules, resolved: the strings `exchangeInfo` shows (8 decimals,
 * as Binance writes them) and, in 1e-8 units, the ones the book is built on.
 */
export interface SimSymbolRules extends SymbolRules {
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly minPrice: string;
  readonly maxPrice: string;
  readonly maxQty: string;
  readonly maxNotional: string;
  readonly applyMinToMarket: boolean;
  readonly applyMaxToMarket: boolean;
  readonly notionalFilter: 'NOTIONAL' | 'MIN_NOTIONAL';
  readonly tickUnits: number;
  readonly stepUnits: number;
  readonly minPriceUnits: number;
  readonly maxPriceUnits: number;
  readonly minQtyUnits: number;
  readonly maxQtyUnits: number;
}

/** `value` (a decimal string, at most 8 decimals) in 1e-8 units; throws naming `field`. */
export function decimalUnits(value: unknown, field: string): number {
  const match = typeof value === 'string' ? DECIMAL_8.exec(value) : null;
  if (!match) {
    throw new InvalidInputError(field, value, 'a decimal string with at most 8 decimals');
  }
  const units = Number(match[1]) * UNITS_PER_ONE + Number((match[2] ?? '').padEnd(8, '0'));
  if (!Number.isSafeInteger(units)) {
    throw new InvalidInputError(field, value, 'a decimal below 90 000 000');
  }
  return units;
}

/**
 * Resolves `options` for `symbol` over {@link DEFAULT_RULES}, checking each
 * value: a tick or step of zero, a minimum above its maximum, or a tick that
 * neither divides a cent nor is a whole number of cents (the trade walk moves
 * by cents) is an `InvalidInputError` naming the field.
 *
 * @example
 * ```ts
 * resolveRules('BTCUSDT', { tickSize: '0.1' }).tickSize; // '0.10000000'
 * ```
 */
export function resolveRules(symbol: string, options: SimSymbolRulesOptions = {}): SimSymbolRules {
  const units = {} as Record<(typeof DECIMAL_FIELDS)[number], number>;
  for (const field of DECIMAL_FIELDS) {
    units[field] = decimalUnits(options[field] ?? DEFAULT_RULES[field], `rules.${symbol}.${field}`);
  }
  const positive = (field: 'tickSize' | 'stepSize') => {
    if (units[field] <= 0) {
      throw new InvalidInputError(`rules.${symbol}.${field}`, options[field], 'more than 0');
    }
  };
  positive('tickSize');
  positive('stepSize');
  if (units.tickSize % CENT_UNITS !== 0 && CENT_UNITS % units.tickSize !== 0) {
    throw new InvalidInputError(
      `rules.${symbol}.tickSize`,
      options.tickSize,
      'a tick that divides 0.01 or is a multiple of it',
    );
  }
  for (const [min, max] of [
    ['minPrice', 'maxPrice'],
    ['minQty', 'maxQty'],
    ['minNotional', 'maxNotional'],
  ] as const) {
    if (units[min] > units[max]) {
      throw new InvalidInputError(`rules.${symbol}.${min}`, options[min], `at most ${max}`);
    }
  }
  const notionalFilter = options.notionalFilter ?? DEFAULT_RULES.notionalFilter;
  if (notionalFilter !== 'NOTIONAL' && notionalFilter !== 'MIN_NOTIONAL') {
    throw new InvalidInputError(
      `rules.${symbol}.notionalFilter`,
      notionalFilter,
      "'NOTIONAL' or 'MIN_NOTIONAL'",
    );
  }
  const quoteAsset = QUOTE_ASSETS.find((q) => symbol.endsWith(q) && symbol.length > q.length);
  return {
    symbol,
    baseAsset: quoteAsset ? symbol.slice(0, -quoteAsset.length) : symbol.slice(0, -3),
    quoteAsset: quoteAsset ?? symbol.slice(-3),
    tickSize: formatQuantity(units.tickSize),
    minPrice: formatQuantity(units.minPrice),
    maxPrice: formatQuantity(units.maxPrice),
    stepSize: formatQuantity(units.stepSize),
    minQty: formatQuantity(units.minQty),
    maxQty: formatQuantity(units.maxQty),
    minNotional: formatQuantity(units.minNotional),
    maxNotional: formatQuantity(units.maxNotional),
    applyMinToMarket: options.applyMinToMarket ?? DEFAULT_RULES.applyMinToMarket,
    applyMaxToMarket: options.applyMaxToMarket ?? DEFAULT_RULES.applyMaxToMarket,
    notionalFilter,
    tickUnits: units.tickSize,
    stepUnits: units.stepSize,
    minPriceUnits: units.minPrice,
    maxPriceUnits: units.maxPrice,
    minQtyUnits: units.minQty,
    maxQtyUnits: units.maxQty,
  };
}

/** The four rules @trade/core's `SymbolRules` carries, and nothing else. */
export function coreRules(rules: SimSymbolRules): SymbolRules {
  const { symbol, tickSize, stepSize, minQty, minNotional } = rules;
  return { symbol, tickSize, stepSize, minQty, minNotional };
}

/** `rules` as one entry of `exchangeInfo`'s `symbols`, shaped as Binance shapes it. */
export function exchangeInfoSymbol(rules: SimSymbolRules): object {
  const notional =
    rules.notionalFilter === 'NOTIONAL'
      ? {
          filterType: 'NOTIONAL',
          minNotional: rules.minNotional,
          applyMinToMarket: rules.applyMinToMarket,
          maxNotional: rules.maxNotional,
          applyMaxToMarket: rules.applyMaxToMarket,
          avgPriceMins: 5,
        }
      : {
          filterType: 'MIN_NOTIONAL',
          minNotional: rules.minNotional,
          applyToMarket: rules.applyMinToMarket,
          avgPriceMins: 5,
        };
  return {
    symbol: rules.symbol,
    status: 'TRADING',
    baseAsset: rules.baseAsset,
    baseAssetPrecision: 8,
    quoteAsset: rules.quoteAsset,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
    icebergAllowed: true,
    ocoAllowed: true,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: true,
    cancelReplaceAllowed: true,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: rules.minPrice,
        maxPrice: rules.maxPrice,
        tickSize: rules.tickSize,
      },
      {
        filterType: 'LOT_SIZE',
        minQty: rules.minQty,
        maxQty: rules.maxQty,
        stepSize: rules.stepSize,
      },
      { filterType: 'ICEBERG_PARTS', limit: 10 },
      {
        filterType: 'MARKET_LOT_SIZE',
        minQty: '0.00000000',
        maxQty: rules.maxQty,
        stepSize: '0.00000000',
      },
      notional,
      { filterType: 'MAX_NUM_ORDERS', maxNumOrders: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', maxNumAlgoOrders: 5 },
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
  };
}
