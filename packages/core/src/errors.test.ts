import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, TradeError } from './errors.js';

describe('TradeError.isInstance', () => {
  it('recognises each subclass by its marker, not by prototype', () => {
    const config = new ConfigError('METRICS_PORT', 'abc', 'a port number from 1 to 65535');
    expect(config.message).toBe('METRICS_PORT: expected a port number from 1 to 65535, got "abc"');
    expect(config.setting).toBe('METRICS_PORT');
    expect(TradeError.isInstance(config)).toBe(true);
    expect(ConfigError.isInstance(config)).toBe(true);
    expect(InvalidInputError.isInstance(config)).toBe(false);

    // A copy from another build of the package carries the same registered symbol.
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@trade/core.error')]: true });
    expect(TradeError.isInstance(foreign)).toBe(true);
    expect(TradeError.isInstance(new Error('plain'))).toBe(false);
    expect(TradeError.isInstance(null)).toBe(false);
  });

  it('says when a setting is set but empty', () => {
    expect(new ConfigError('SYMBOLS', '', 'a comma-separated list').message).toBe(
      'SYMBOLS: expected a comma-separated list, got an empty string',
    );
  });

  it('keeps the cause and the retry hint', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new TradeError('database unreachable', { cause, isRetryable: true });
    expect(error.cause).toBe(cause);
    expect(error.isRetryable).toBe(true);
  });
});
