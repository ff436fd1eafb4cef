import { silentLogger } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { ConnectGate } from './connect-gate.js';
import { RejectLog } from './reject-log.js';
import { Sleepers } from './sleepers.js';

describe('ConnectGate', () => {
  it('holds attempts past the limit per 5 minutes, and for a refusal’s Retry-After', () => {
    let now = 1_000_000;
    const gate = new ConnectGate(2, () => now);
    gate.record();
    gate.record();
    expect(gate.limitDelay()).toBe(300_000);
    now += 300_000;
    expect(gate.limitDelay()).toBe(0);
    expect(gate.blockedFor()).toBeLessThanOrEqual(0);
    gate.blockUntil(now + 5_000);
    gate.blockUntil(now + 1_000); // an earlier end does not shorten the wait
    expect(gate.blockedFor()).toBe(5_000);
  });
});

describe('RejectLog', () => {
  it('counts every rejection and logs a reason at most once per interval', () => {
    let now = 0;
    const logged: unknown[] = [];
    const logger = { ...silentLogger, warn: (fields: unknown) => logged.push(fields) };
    const log = new RejectLog(logger, undefined, 1_000, () => now);
    log.reject('invalid_json', 'a');
    log.reject('invalid_json', 'b');
    log.reject('missing_field', 'p');
    now = 1_000;
    log.reject('invalid_json', 'c');
    expect(log.counts).toEqual({ invalid_json: 3, missing_field: 1 });
    expect(logged).toEqual([
      { reason: 'invalid_json', detail: 'a', suppressed: 0 },
      { reason: 'missing_field', detail: 'p', suppressed: 0 },
      { reason: 'invalid_json', detail: 'c', suppressed: 1 },
    ]);
  });
});

describe('Sleepers', () => {
  it('wakes every sleeper at once, and does not sleep once closed', async () => {
    const sleepers = new Sleepers();
    const woken = Promise.all([sleepers.sleep(60_000), sleepers.sleep(60_000)]);
    sleepers.wakeAll();
    await woken;
    sleepers.close();
    await sleepers.sleep(60_000);
  });
});
