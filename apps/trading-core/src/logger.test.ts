import { Writable } from 'node:stream';
import { createTradingMetrics } from '@trade/metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLines, wantsColor } from './logger.js';

describe('createLogger', () => {
  it('counts every error by the component of the logger that wrote it', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger(metrics, { level: 'info' }, sink);
    logger.info('fine');
    logger.warn('not an error');
    logger.error('boom');
    logger.child({ component: 'database' }).error({ code: 'ECONNREFUSED' }, 'unreachable');
    logger.child({ component: 'database' }).fatal('gone');
    const text = await metrics.registry.metrics();
    expect(text).toContain('trading_errors_total{component="app"} 1\n');
    expect(text).toContain('trading_errors_total{component="database"} 2\n');
    expect(text).toContain('trading_errors_total{component="exchange"} 0\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[3]!)).toMatchObject({
      component: 'database',
      code: 'ECONNREFUSED',
      msg: 'unreachable',
    });
  });
});

describe('prettyLines', () => {
  it('writes one readable line per event: local time, level word, component, message, fields', () => {
    const lines: string[] = [];
    const logger = createLogger(
      undefined,
      { level: 'info' },
      prettyLines({ write: (chunk: string) => lines.push(chunk) }, { colorize: false }),
    );
    logger.child({ component: 'market-data' }).info({ count: 5000, symbol: 'BTCUSDT' }, 'stored');
    logger.error({ err: new Error('boom\nsecond line') }, 'failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: market-data: stored \\{"count":5000,"symbol":"BTCUSDT"\\}\\n$`,
      ),
    );
    // An error and its stack stay on the event's one line.
    expect(lines[1]).toMatch(
      /^\[[\d:.]+\] ERROR: failed \{"err":\{"type":"Error","message":"boom\\nsecond line"/,
    );
    expect(lines[1]!.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('wantsColor', () => {
  it('colours a terminal, or where FORCE_COLOR asks, never with NO_COLOR', () => {
    expect(wantsColor({}, true)).toBe(true);
    expect(wantsColor({}, false)).toBe(false);
    expect(wantsColor({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(wantsColor({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(wantsColor({ NO_COLOR: '' }, true)).toBe(false);
    expect(wantsColor({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
  });
});
