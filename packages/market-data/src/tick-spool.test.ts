import { createTick, type Tick } from '@trade/core';
import { appendFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TickSpool } from './tick-spool.js';

const batch = (from: number, count: number, symbol = 'BTCUSDT'): Tick[] =>
  Array.from({ length: count }, (_, i) =>
    createTick({
      symbol,
      tradeId: from + i,
      price: '43250.01000000',
      quantity: '0.0000000012345678',
      isBuyerMaker: i % 2 === 0,
      tradeTime: 1_700_000_000_000 + i,
      receiveTime: 1_700_000_000_010 + i,
    }),
  );

async function drain(spool: TickSpool): Promise<number[][]> {
  const seen: number[][] = [];
  for (let ticks = await spool.next(); ticks; ticks = await spool.next()) {
    seen.push(ticks.map((t) => t.tradeId));
    await spool.ack();
  }
  return seen;
}

describe('TickSpool', () => {
  it('gives batches back in order, exactly, across a restart and across segments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const first = await TickSpool.open(dir, { segmentBytes: 500 });
    expect(first.isEmpty).toBe(true);
    const written = [batch(1, 3), batch(4, 2), batch(6, 4), batch(10, 1)];
    await Promise.all(written.map((b) => first.append(b)));
    expect(first.isEmpty).toBe(false);
    expect(first.tickCount).toBe(10);
    await first.close();
    expect((await readdir(dir)).length).toBeGreaterThan(1);

    const second = await TickSpool.open(dir);
    expect(second.tickCount).toBe(10);
    const ticks = await second.next();
    expect(ticks).toEqual(written[0]);
    // Not acknowledged: the same batch again.
    expect(await second.next()).toEqual(written[0]);
    await second.ack();
    expect(second.tickCount).toBe(7);
    await second.append(batch(11, 2));
    expect(await drain(second)).toEqual([[4, 5], [6, 7, 8, 9], [10], [11, 12]]);
    expect(second.isEmpty).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    await expect(second.ack()).rejects.toThrow(/ack/);
  });

  it('skips a record torn by a crash and one that is unreadable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const spool = await TickSpool.open(dir);
    await spool.append(batch(1, 2));
    await spool.close();
    const [segment] = await readdir(dir);
    await appendFile(
      join(dir, segment!),
      [
        '2 not json',
        '1 [["BTCUSDT",3,"1","1","BUY",false,1,1]]',
        // A count that does not match its record: unreadable too.
        '3 [["BTCUSDT",4,"1","1","BUY",false,1,1],["BTCUSDT",5,"1","1","BUY",false,1,1]]',
        '2 [["BTCUSDT",4,"1","1","BUY",false,1,1],["BTCUSDT",5,"1","1","BUY",false,1,1]]',
        '1 [["BTC',
      ].join('\n'),
    );
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_: object, m?: string) => warnings.push(m ?? ''),
      error() {},
    };
    const reopened = await TickSpool.open(dir, { logger });
    // Complete records only, as declared: 2 + 2 + 1 + 3 + 2.
    expect(reopened.tickCount).toBe(10);
    expect(await drain(reopened)).toEqual([[1, 2], [3], [4, 5]]);
    expect(reopened.tickCount).toBe(0);
    expect(warnings).toEqual([
      'spool: skipping a torn final record',
      'spool: skipping an unreadable record',
      'spool: skipping an unreadable record',
    ]);
  });

  it('keeps refused ticks with their reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const spool = await TickSpool.open(dir);
    const [tick] = batch(7, 1);
    await spool.appendRejected([{ tick: tick!, reason: 'invalid price' }]);
    const line = JSON.parse(await readFile(join(dir, 'rejected.jsonl'), 'utf8')) as {
      reason: string;
      tick: Tick;
    };
    expect(line).toMatchObject({ reason: 'invalid price', tick });
    expect(spool.isEmpty).toBe(true);
  });

  it('rotates rejected.jsonl past its size, keeping a few older files and deleting the oldest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const infos: string[] = [];
    const logger = {
      debug() {},
      info: (_: object, m?: string) => infos.push(m ?? ''),
      warn() {},
      error() {},
    };
    // Each record is about 260 bytes: two fit in a file, a third rotates it.
    const spool = await TickSpool.open(dir, {
      rejectedFileBytes: 600,
      rejectedFilesKept: 2,
      logger,
    });
    const ticks = batch(1, 12);
    for (const tick of ticks) await spool.appendRejected([{ tick, reason: 'invalid price' }]);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['rejected.1.jsonl', 'rejected.2.jsonl', 'rejected.jsonl']);
    const idsIn = async (name: string) => {
      const text = await readFile(join(dir, name), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(600);
      return text
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { tick: Tick }).tick.tradeId);
    };
    // The newest six, oldest first across the files; the six before deleted.
    expect([
      ...(await idsIn('rejected.2.jsonl')),
      ...(await idsIn('rejected.1.jsonl')),
      ...(await idsIn('rejected.jsonl')),
    ]).toEqual([7, 8, 9, 10, 11, 12]);
    expect(infos.filter((m) => m.includes('rotated'))).toHaveLength(5);
  });

  it('starts rejected.jsonl afresh when no rotated file is kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const spool = await TickSpool.open(dir, { rejectedFileBytes: 600, rejectedFilesKept: 0 });
    for (const tick of batch(1, 5)) await spool.appendRejected([{ tick, reason: 'invalid price' }]);
    expect(await readdir(dir)).toEqual(['rejected.jsonl']);
    const text = await readFile(join(dir, 'rejected.jsonl'), 'utf8');
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { tick: Tick }).tick.tradeId),
    ).toEqual([5]);
  });

  it('names a bad rotation setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    await expect(TickSpool.open(dir, { rejectedFileBytes: 0 })).rejects.toThrow(
      /rejectedFileBytes/,
    );
    await expect(TickSpool.open(dir, { rejectedFilesKept: -1 })).rejects.toThrow(
      /rejectedFilesKept/,
    );
  });

  it('tells the highest trade id per symbol it holds, across a reopen, until a segment is replayed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const first = await TickSpool.open(dir, { segmentBytes: 500 });
    expect(first.highestTradeIds()).toEqual(new Map());
    // Two segments: BTCUSDT 1-3, ETHUSDT 50-51, [ETHUSDT 90, BTCUSDT 4]; then BTCUSDT 5-6.
    await first.append(batch(1, 3));
    await first.append(batch(50, 2, 'ETHUSDT'));
    await first.append([...batch(90, 1, 'ETHUSDT'), ...batch(4, 1)]);
    await first.append(batch(5, 2));
    const expected = new Map([
      ['BTCUSDT', 6],
      ['ETHUSDT', 90],
    ]);
    expect(first.highestTradeIds()).toEqual(expected);
    await first.close();
    expect(await readdir(dir)).toHaveLength(2);

    const second = await TickSpool.open(dir);
    expect(second.highestTradeIds()).toEqual(expected);
    // Part of the first segment replayed: it still counts, whole.
    await second.next();
    await second.ack();
    expect(second.highestTradeIds()).toEqual(expected);
    // Once it is replayed and deleted, only the second segment's ticks count.
    while (second.segmentCount > 1) {
      await second.next();
      await second.ack();
    }
    expect(second.highestTradeIds()).toEqual(new Map([['BTCUSDT', 6]]));
    await drain(second);
    expect(second.highestTradeIds()).toEqual(new Map());
    await second.append(batch(7, 2));
    expect(second.highestTradeIds()).toEqual(new Map([['BTCUSDT', 8]]));
  });
});
