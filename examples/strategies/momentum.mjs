/**
 * A momentum strategy to copy and change: BUY after `rising` price rises in a
 * row, SELL the whole position after `falling` falls in a row.
 *
 *   trading-core backtest --strategy ./examples/strategies/momentum.mjs \
 *     --strategy-options rising=3,falling=2 --symbol BTCUSDT
 *
 * `--strategy` takes the path of a module (.mjs, .js or .cjs) whose default
 * export is a strategy definition `{ name, warmUpTicks, create(symbol) }`, or,
 * as here, a function that builds one from the `--strategy-options` numbers.
 * The same file runs in `backtest`, `paper` and `live --paper-trading`.
 *
 * The module needs nothing installed: a signal is a plain object. The types
 * below are those of `@trade/paper-engine`, for editors that can resolve it.
 *
 * @typedef {import('@trade/paper-engine').StrategyDefinition} StrategyDefinition
 * @typedef {import('@trade/paper-engine').Strategy} Strategy
 * @typedef {import('@trade/paper-engine').Signal} Signal
 */

// What onTick returns: { action: 'BUY' | 'SELL' | 'HOLD', size?: a fraction in (0, 1] }.
// For a BUY, size is the share of what the portfolio's sizing allows; for a
// SELL, of the position (default 1, all of it). onTick runs on every tick:
// returning these shared, frozen objects keeps it from allocating.
/** @type {Signal} */
const HOLD = Object.freeze({ action: 'HOLD' });
/** @type {Signal} */
const BUY = Object.freeze({ action: 'BUY' });
/** @type {Signal} */
const SELL = Object.freeze({ action: 'SELL' });

/**
 * Called once at start with the `--strategy-options` numbers (`{}` without
 * them). Throwing here stops the app with the message: check the options.
 *
 * @param {Readonly<Record<string, number>>} options
 * @returns {StrategyDefinition}
 */
export default function momentum(options) {
  const { rising = 3, falling = 3, ...unknown } = options;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    throw new Error(`unknown option ${extra.join(', ')}: momentum takes rising and falling`);
  }
  for (const [key, value] of Object.entries({ rising, falling })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${key} must be a whole number of 1 or more, got ${value}`);
    }
  }

  return {
    // Written to every fill and the summaries; `paper` names its consumer paper-momentum.
    name: 'momentum',
    // How many recent ticks `live` and `paper` feed warmUp at start: enough for either run.
    warmUpTicks: Math.max(rising, falling) + 1,
    // Shown in logs and the backtest summary.
    options: { rising, falling },
    // One strategy per symbol, so each keeps the state of its own symbol.
    create: () => momentumState(rising, falling),
  };
}

/**
 * One symbol's runs of rises and falls. Ticks at an unchanged price are
 * skipped: trades often repeat the last price, and that is no turn.
 *
 * @param {number} rising
 * @param {number} falling
 * @returns {Strategy}
 */
function momentumState(rising, falling) {
  let previous = Number.NaN;
  let ups = 0;
  let downs = 0;

  /** @param {number} price */
  const push = (price) => {
    if (price > previous) {
      ups += 1;
      downs = 0;
    } else if (price < previous) {
      downs += 1;
      ups = 0;
    }
    previous = price;
  };

  return {
    // Decides on one tick. `ctx.position` is the quantity held (never
    // negative: long only), `ctx.cash` the portfolio's cash. Prices are
    // decimal strings: Number() is exact enough for a signal.
    onTick(tick, ctx) {
      push(Number(tick.price));
      // Asks once, on the tick a run reaches its length: a refused order is
      // not asked again until the next run.
      if (ctx.position === 0 && ups === rising) return BUY;
      if (ctx.position > 0 && downs === falling) return SELL;
      return HOLD;
    },
    // Older ticks, oldest first, at start: the runs count them, no trading.
    warmUp(ticks) {
      for (const tick of ticks) push(Number(tick.price));
    },
    // Optional too: onFill(fill) after an order filled, onRejected(rejection)
    // after one was refused (rejection.reason says why).
  };
}
