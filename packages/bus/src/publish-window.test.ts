import type { Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { tick } from '../test/helpers/unit-ticks.js';
import { PublishWindow, publishFailureReason, type PublishOutcome } from './publish-window.js';

/** A send whose acks the test gives, one tick at a time. */
function fakeSend() {
  const waiting = new Map<
    number,
    { resolve: (ack: { duplicate: boolean }) => void; reject: (e: Error) => void }
  >();
  const send = (t: Tick) =>
    new Promise<{ duplicate: boolean }>((resolve, reject) =>
      waiting.set(t.tradeId, { resolve, reject }),
    );
  return { send, waiting };
}

const named = (name: string, cause?: Error) => {
  const error = new Error(name, cause ? { cause } : undefined);
  error.name = name;
  return error;
};

describe('PublishWindow', () => {
  it('counts publishes until acked, and reports each outcome', async () => {
    const { send, waiting } = fakeSend();
    const outcomes: [number, PublishOutcome, boolean][] = [];
    const window = new PublishWindow(send, (t, o, a) => outcomes.push([t.tradeId, o, a]));
    for (const id of [1, 2, 3]) window.publish(tick(id));
    expect(window.size).toBe(3);
    waiting.get(2)!.resolve({ duplicate: true });
    waiting.get(1)!.resolve({ duplicate: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(window.size).toBe(1);
    expect(outcomes).toEqual([
      [2, { ok: true, duplicate: true }, false],
      [1, { ok: true, duplicate: false }, false],
    ]);
  });

  it('abandons what waits for an ack, oldest first, and still reports their late outcomes as abandoned', async () => {
    const { send, waiting } = fakeSend();
    const outcomes: [number, boolean, boolean][] = [];
    const window = new PublishWindow(send, (t, o, a) => outcomes.push([t.tradeId, o.ok, a]));
    for (const id of [1, 2, 3, 4]) window.publish(tick(id));
    waiting.get(2)!.resolve({ duplicate: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(window.abandon().map((t) => t.tradeId)).toEqual([1, 3, 4]);
    expect(window.size).toBe(0);
    window.publish(tick(5));
    expect(window.size).toBe(1);
    waiting.get(3)!.resolve({ duplicate: false });
    waiting.get(1)!.reject(named('TimeoutError'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(window.size).toBe(1);
    expect(outcomes).toEqual([
      [2, true, false],
      [3, true, true],
      [1, false, true],
    ]);
  });

  it('hands back a failed publish with those waiting, in the order sent: a failure is never stored', async () => {
    const { send, waiting } = fakeSend();
    const outcomes: [number, boolean, boolean][] = [];
    const window = new PublishWindow(send, (t, o, a) => outcomes.push([t.tradeId, o.ok, a]));
    for (const id of [1, 2, 3, 4]) window.publish(tick(id));
    waiting.get(1)!.resolve({ duplicate: false });
    waiting.get(2)!.reject(named('NoResponders'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(window.size).toBe(2);
    expect(outcomes).toEqual([
      [1, true, false],
      [2, false, false],
    ]);
    expect(window.abandon().map((t) => t.tradeId)).toEqual([2, 3, 4]);
    expect(window.abandon()).toEqual([]);
  });

  it('sorts failures into the reasons of trading_bus_publish_failures_total', () => {
    expect(publishFailureReason(named('TimeoutError'))).toBe('timeout');
    expect(publishFailureReason(named('JetStreamNotEnabled'))).toBe('no_responders');
    expect(publishFailureReason(named('RequestError', named('NoResponders')))).toBe(
      'no_responders',
    );
    expect(publishFailureReason(named('RequestError'))).toBe('connection_closed');
    expect(publishFailureReason(named('ClosedConnectionError'))).toBe('connection_closed');
    expect(publishFailureReason(named('JetStreamApiError'))).toBe('refused');
    expect(publishFailureReason(new Error('?'))).toBe('other');
    expect(publishFailureReason('?')).toBe('other');
  });
});
