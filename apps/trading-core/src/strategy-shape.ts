import type { Signal, Strategy, StrategyDefinition } from '@trade/paper-engine';

/** Makes the error that names the module and what is wrong with it. */
export type ShapeFailure = (problem: string) => Error;

/** The shape a definition must have, as messages say it. */
export const DEFINITION_SHAPE = 'a strategy definition { name, warmUpTicks, create(symbol) }';
const STRATEGY_SHAPE =
  'a strategy { onTick(tick, ctx), warmUp?(ticks), onFill?(fill), onRejected?(rejection) }';
const SIGNAL_SHAPE = 'a signal { action: "BUY" | "SELL" | "HOLD", size?: a number in (0, 1] }';
const OPTIONAL_METHODS = ['warmUp', 'onFill', 'onRejected'] as const;

/** A value as a message shows it: JSON for data, cut at 64 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
  try {
    const json = JSON.stringify(value);
    return json.length > 64 ? `${json.slice(0, 64)}…` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `Name: message` of a thrown error, or the thrown value shown. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : show(error);
}

/**
 * `value` as a {@link StrategyDefinition}, after checking its fields and the
 * strategy its `create(symbol)` makes. `subject` says what `value` is in the
 * messages (e.g. `its default export`); `expected` what it should have been.
 */
export function checkDefinition(
  value: unknown,
  subject: string,
  expected: string,
  symbol: string,
  fail: ShapeFailure,
): StrategyDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(`${subject} is ${show(value)}, expected ${expected}`);
  }
  const { name, warmUpTicks, options, create } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '') {
    throw fail(`${subject}: name must be a non-empty string, got ${show(name)}`);
  }
  if (typeof warmUpTicks !== 'number' || !Number.isSafeInteger(warmUpTicks) || warmUpTicks < 0) {
    throw fail(`${subject}: warmUpTicks must be an integer of 0 or more, got ${show(warmUpTicks)}`);
  }
  if (options !== undefined && !isNumberRecord(options)) {
    throw fail(
      `${subject}: options, when given, must be an object of numbers, got ${show(options)}`,
    );
  }
  if (typeof create !== 'function') {
    throw fail(`${subject}: create must be a function (symbol) => strategy, got ${show(create)}`);
  }
  const definition = value as StrategyDefinition;
  createChecked(definition, symbol, subject, fail);
  return definition;
}

/**
 * `definition` as the engine gets it: `options` (those it was given) unless
 * it says its own, and every strategy it makes checked, its signals too. A
 * bad signal throws, which the engine counts as a failed tick and treats as
 * HOLD, rather than reading `{ action: 'buy' }` as a SELL.
 */
export function guardedDefinition(
  definition: StrategyDefinition,
  options: Readonly<Record<string, number>>,
  subject: string,
  fail: ShapeFailure,
): StrategyDefinition {
  const { name, warmUpTicks } = definition;
  return {
    name,
    warmUpTicks,
    options: { ...(definition.options ?? options) },
    create: (symbol) => guarded(createChecked(definition, symbol, subject, fail), name),
  };
}

function createChecked(
  definition: StrategyDefinition,
  symbol: string,
  subject: string,
  fail: ShapeFailure,
): Strategy {
  const call = `${subject}: create(${JSON.stringify(symbol)})`;
  let strategy: unknown;
  try {
    strategy = definition.create(symbol);
  } catch (error) {
    throw fail(`${call} threw: ${describeError(error)}`);
  }
  if (typeof strategy !== 'object' || strategy === null) {
    throw fail(`${call} returned ${show(strategy)}, expected ${STRATEGY_SHAPE}`);
  }
  const methods = strategy as Record<string, unknown>;
  if (typeof methods.onTick !== 'function') {
    throw fail(
      `${call} returned an object whose onTick is ${show(methods.onTick)}, expected ${STRATEGY_SHAPE}`,
    );
  }
  for (const method of OPTIONAL_METHODS) {
    if (methods[method] !== undefined && typeof methods[method] !== 'function') {
      throw fail(
        `${call} returned a strategy whose ${method} is ${show(methods[method])}, not a function`,
      );
    }
  }
  return strategy as Strategy;
}

/** `inner` with each signal checked; its own methods called on it, so `this` holds. */
function guarded(inner: Strategy, name: string): Strategy {
  const strategy: Strategy = {
    onTick: (tick, ctx) => checkedSignal(inner.onTick(tick, ctx), name),
  };
  if (inner.warmUp) strategy.warmUp = (ticks) => inner.warmUp?.(ticks);
  if (inner.onFill) strategy.onFill = (fill) => inner.onFill?.(fill);
  if (inner.onRejected) strategy.onRejected = (rejection) => inner.onRejected?.(rejection);
  return strategy;
}

function checkedSignal(signal: unknown, name: string): Signal {
  if (typeof signal === 'object' && signal !== null) {
    const { action, size } = signal as { action?: unknown; size?: unknown };
    if (
      (action === 'HOLD' || action === 'BUY' || action === 'SELL') &&
      (size === undefined || (typeof size === 'number' && size > 0 && size <= 1))
    ) {
      return signal as Signal;
    }
  }
  throw new TypeError(
    `strategy ${name}: onTick returned ${show(signal)}, expected ${SIGNAL_SHAPE}`,
  );
}

function isNumberRecord(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}
