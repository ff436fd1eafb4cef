import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startUptimeMonitor } from './uptime-monitor.js';

afterEach(() => {
  vi.useRealTimers();
});

async function value(gauge: Gauge): Promise<number> {
  return (await gauge.get()).values[0]?.value ?? Number.NaN;
}

describe('startUptimeMonitor', () => {
  it('sets whole seconds now and every interval, and stops on close()', async () => {
    vi.useFakeTimers();
    let now = 0;
    const gauge = new Gauge({ name: 'up_seconds', help: 'h', registers: [new Registry()] });
    const monitor = startUptimeMonitor({ gauge, now: () => now });
    expect(await value(gauge)).toBe(0);

    now = 1_400;
    vi.advanceTimersByTime(1_000);
    expect(await value(gauge)).toBe(1);

    now = 3_999;
    vi.advanceTimersByTime(2_000);
    expect(await value(gauge)).toBe(3);

    await monitor.close();
    now = 10_000;
    vi.advanceTimersByTime(5_000);
    expect(await value(gauge)).toBe(3);
  });

  it('keeps stop() as the deprecated alias of close()', async () => {
    vi.useFakeTimers();
    let now = 0;
    const gauge = new Gauge({ name: 'up_seconds', help: 'h', registers: [new Registry()] });
    const monitor = startUptimeMonitor({ gauge, now: () => now });
    monitor.stop();
    now = 5_000;
    vi.advanceTimersByTime(5_000);
    expect(await value(gauge)).toBe(0);
  });
});
