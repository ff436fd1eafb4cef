const TRADE_ERROR_MARKER = Symbol.for('@trade/core.error');
const INVALID_INPUT_MARKER = Symbol.for('@trade/core.error.invalid-input');
const CONFIG_ERROR_MARKER = Symbol.for('@trade/core.error.config');

/**
 * Base of every error the toolkit throws. `isInstance` works across copies of
 * the package (ESM and CJS builds, two versions in one tree), where
 * `instanceof` would not.
 *
 * @example
 * ```ts
 * try { createTick(raw) } catch (e) { if (TradeError.isInstance(e)) log.warn(e.message) }
 * ```
 */
export class TradeError extends Error {
  private readonly [TRADE_ERROR_MARKER] = true;
  /** Whether trying the same operation again may succeed. */
  readonly isRetryable: boolean;

  constructor(message: string, options: { cause?: unknown; isRetryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TradeError';
    this.isRetryable = options.isRetryable ?? false;
  }

  static isInstance(error: unknown): error is TradeError {
    return hasMarker(error, TRADE_ERROR_MARKER);
  }
}

/** A value from outside (a frame, a row, a caller) that is not what it must be. */
export class InvalidInputError extends TradeError {
  private readonly [INVALID_INPUT_MARKER] = true;
  /** The field or argument that was wrong, e.g. `price`. */
  readonly field: string;
  /** The offending value, as received. */
  readonly value: unknown;

  constructor(field: string, value: unknown, expected: string) {
    super(`invalid ${field}: expected ${expected}, got ${describe(value)}`);
    this.name = 'InvalidInputError';
    this.field = field;
    this.value = value;
  }

  static override isInstance(error: unknown): error is InvalidInputError {
    return hasMarker(error, INVALID_INPUT_MARKER);
  }
}

/** A configuration setting (env var, flag, option) that is set but invalid. */
export class ConfigError extends TradeError {
  private readonly [CONFIG_ERROR_MARKER] = true;
  /** The setting's name as the user wrote it, e.g. `METRICS_PORT` or `--symbols`. */
  readonly setting: string;

  constructor(setting: string, value: unknown, expected: string) {
    super(`${setting}: expected ${expected}, got ${describe(value)}`);
    this.name = 'ConfigError';
    this.setting = setting;
  }

  static override isInstance(error: unknown): error is ConfigError {
    return hasMarker(error, CONFIG_ERROR_MARKER);
  }
}

function hasMarker(error: unknown, marker: symbol): boolean {
  return typeof error === 'object' && error !== null && marker in error;
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
    return value === '' ? 'an empty string' : JSON.stringify(shown);
  }
  if (value === undefined) return 'nothing';
  try {
    const json = JSON.stringify(value);
    return json.length > 64 ? `${json.slice(0, 64)}…` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
