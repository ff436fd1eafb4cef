import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createTradingMetrics } from './create-trading-metrics.js';
import { negotiateFormat, renderExposition, toOpenMetrics } from './exposition.js';

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    ['text/plain;version=0.0.4', 'prometheus'],
    ['*/*', 'prometheus'],
    // What Prometheus 2.x sends by default.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'prometheus'],
    ['text/plain;q=0.9,application/openmetrics-text;q=0.5', 'prometheus'],
    ['application/openmetrics-text;q=0', 'prometheus'],
  ] as const)('%j -> %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe('OpenMetrics rendering', () => {
  it('names counter families without _total, keeps samples, ends with # EOF', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    metrics.ticksReceived.inc(3);
    const body = await renderExposition(metrics.registry, 'openmetrics');
    expect(body).toContain(
      [
        '# HELP trading_ticks_received Total number of ticks received from exchange',
        '# TYPE trading_ticks_received counter',
        'trading_ticks_received_total 3',
      ].join('\n'),
    );
    expect(body).toContain(
      '# TYPE trading_channel_buffer_size gauge\ntrading_channel_buffer_size 0\n',
    );
    expect(body.endsWith('\n# EOF\n')).toBe(true);
    expect(body).not.toContain('\n\n');
  });

  it('leaves the registry intact for the next Prometheus-format scrape', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    await renderExposition(metrics.registry, 'openmetrics');
    const text = await renderExposition(metrics.registry, 'prometheus');
    expect(text).toContain(
      '# TYPE trading_ticks_received_total counter\ntrading_ticks_received_total 0\n',
    );
  });

  it('escapes double quotes in help text', () => {
    const body = toOpenMetrics('# HELP x_total say "hi"\n# TYPE x_total counter\nx_total 1\n');
    expect(body).toBe('# HELP x say \\"hi\\"\n# TYPE x counter\nx_total 1\n# EOF\n');
  });
});
