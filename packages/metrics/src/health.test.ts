import { describe, expect, it } from 'vitest';
import { runChecks } from './health.js';

describe('runChecks', () => {
  it('passes when every check passes, in any of the accepted shapes', async () => {
    const report = await runChecks(
      { a: () => true, b: () => ({ ok: true }), c: () => Promise.resolve(true) },
      100,
    );
    expect(report).toEqual({ ok: true, failures: [] });
  });

  it('names each failing check with its reason', async () => {
    const report = await runChecks(
      {
        fine: () => true,
        database: () => ({ ok: false, reason: 'connection refused' }),
        exchange: () => false,
        cache: () => {
          throw new Error('redis timed out');
        },
        slow: () => new Promise<boolean>(() => undefined),
      },
      20,
    );
    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([
      'database: connection refused',
      'exchange: failing',
      'cache: redis timed out',
      'slow: no answer within 20 ms',
    ]);
  });
});
