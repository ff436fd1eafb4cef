import { ConfigError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { readMetricsConfig } from './config.js';

describe('readMetricsConfig', () => {
  it('defaults to 0.0.0.0:9090', () => {
    expect(readMetricsConfig({})).toEqual({ host: '0.0.0.0', port: 9090 });
  });

  it('reads both variables', () => {
    expect(readMetricsConfig({ METRICS_HOST: '127.0.0.1', METRICS_PORT: '9191' })).toEqual({
      host: '127.0.0.1',
      port: 9191,
    });
  });

  it.each([
    ['METRICS_PORT', 'abc', 'METRICS_PORT: expected a port number from 0 to 65535, got "abc"'],
    ['METRICS_PORT', '70000', 'METRICS_PORT: expected a port number from 0 to 65535, got "70000"'],
    [
      'METRICS_PORT',
      '',
      'METRICS_PORT: expected a port number from 0 to 65535, got an empty string',
    ],
    ['METRICS_HOST', ' ', 'METRICS_HOST: expected a non-empty value, got " "'],
  ])('refuses %s=%j with a message naming it', (name, value, message) => {
    const attempt = () => readMetricsConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});
