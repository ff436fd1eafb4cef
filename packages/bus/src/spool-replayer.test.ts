import { silentLogger, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { tick } from '../test/helpers/unit-ticks.js';
import { Progress } from './progress.js';
import type { BusRecordSpool } from './spool-feeder.js';
import { SpoolReplayer, type SpoolReplayerOptions } from './spool-replayer.js';

/** A spool holding `batches`; `next()` gives nothing while `hidden` (an append under way). */
function fakeSpool(batches: number[][]) {
  const state = { hidden: false, acks: 0 };
  const spool: BusRecordSpool<Tick> = {
    append: () => Promise.resolve(),
    next: () =>
      Promise.resolve(state.hidden || batches.length === 0 ? undefined : batches[0]!.map(tick)),
    ack: () => {
      batches.shift();
      state.acks += 1;
      return Promise.resolve();
    },
    get isEmpty() {
      return batches.length === 0;
    },
    get rowCount() {
      return batches.flat().length;
    },
  };
  return { spool, state };
}

function replayer(
  overrides: Partial<SpoolReplayerOptions<Tick>> & Pick<SpoolReplayerOptions<Tick>, 'spool'>,
) {
  const events: string[] = [];
  let active = true;
  const options: SpoolReplayerOptions<Tick> = {
    feeder: { busy: false, settled: () => Promise.resolve() },
    retry: { initialMs: 1, maxMs: 1, jitter: 0 },
    alarm: new Progress(),
    logger: silentLogger,
    publish: (ticks) => {
      events.push(`publish ${ticks.map((t) => t.tradeId).join(',')}`);
      return Promise.resolve(true);
    },
    active: () => active,
    connected: () => true,
    onEmpty: () => {
      events.push('empty');
      active = false;
    },
    lastError: () => undefined,
    ...overrides,
  };
  return { replayer: new SpoolReplayer(options), events };
}

describe('SpoolReplayer', () => {
  it('publishes the batches in order, acks each, and says when the spool is empty', async () => {
    const { spool, state } = fakeSpool([[1, 2], [3]]);
    const { replayer: r, events } = replayer({ spool });
    await r.run();
    expect(events).toEqual(['publish 1,2', 'publish 3', 'empty']);
    expect(state.acks).toBe(2);
    expect(r.replayed).toBe(3);
  });

  it('waits for an append under way before it calls the spool empty', async () => {
    const { spool, state } = fakeSpool([[7]]);
    state.hidden = true; // the batch is being appended: next() does not see it yet
    let appended!: () => void;
    const feeder = {
      busy: true,
      settled: () =>
        new Promise<void>((resolve) => {
          appended = () => {
            state.hidden = false;
            feeder.busy = false;
            resolve();
          };
        }),
    };
    const { replayer: r, events } = replayer({ spool, feeder });
    const running = r.run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
    appended();
    await running;
    expect(events).toEqual(['publish 7', 'empty']);
  });

  it('tries a batch JetStream refused again, and does not ack it until it went through', async () => {
    const { spool, state } = fakeSpool([[1, 2]]);
    let attempts = 0;
    const { replayer: r, events } = replayer({
      spool,
      publish: () => {
        attempts += 1;
        events.push(`attempt ${attempts} acks ${state.acks}`);
        return Promise.resolve(attempts >= 3);
      },
    });
    await r.run();
    expect(events).toEqual(['attempt 1 acks 0', 'attempt 2 acks 0', 'attempt 3 acks 0', 'empty']);
    expect(state.acks).toBe(1);
  });

  it('reads nothing while disconnected, and starts when the alarm says the connection is back', async () => {
    const { spool } = fakeSpool([[5]]);
    const alarm = new Progress();
    let connected = false;
    const { replayer: r, events } = replayer({ spool, alarm, connected: () => connected });
    const running = r.run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
    connected = true;
    alarm.notify();
    await running;
    expect(events).toEqual(['publish 5', 'empty']);
  });
});
