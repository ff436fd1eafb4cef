import { createTick, type Tick } from '@trade/core';
import { appendFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUARANTINE_DIR, TickSpool, type CorruptSpoolRecord } from './tick-spool.js';

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
    const acked = second.ack();
    expect(second.tickCount).toBe(7); // counted off at once, before the ack settles
    await acked;
    await second.append(batch(11, 2));
    expect(await drain(second)).toEqual([[4, 5], [6, 7, 8, 9], [10], [11, 12]]);
    expect(second.isEmpty).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    await expect(second.ack()).rejects.toThrow(/ack/);
  });

  it('sets aside, byte for byte, a record torn by a crash and unreadable ones, and replays the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const spool = await TickSpool.open(dir);
    await spool.append(batch(1, 2));
    await spool.close();
    const [segment] = await readdir(dir);
    const damaged = [
      '2 not json',
      // A count that does not match its record.
      '3 [["BTCUSDT",4,"1","1","BUY",false,1,1],["BTCUSDT",5,"1","1","BUY",false,1,1]]',
      // A checksum field that is not one.
      '1 zz000000 [["BTCUSDT",6,"1","1","BUY",false,1,1]]',
    ];
    const torn = '1 [["BTC';
    await appendFile(
      join(dir, segment!),
      [
        damaged[0],
        '1 [["BTCUSDT",3,"1","1","BUY",false,1,1]]',
        damaged[1],
        damaged[2],
        '2 [["BTCUSDT",4,"1","1","BUY",false,1,1],["BTCUSDT",5,"1","1","BUY",false,1,1]]',
        torn,
      ].join('\n'),
    );
    const corrupt: CorruptSpoolRecord[] = [];
    const reopened = await TickSpool.open(dir, { onCorruptRecord: (r) => corrupt.push(r) });
    // Readable records only: 2 + 1 + 2.
    expect(reopened.tickCount).toBe(5);
    expect(reopened.highestTradeIds()).toEqual(new Map([['BTCUSDT', 5]]));
    expect(await drain(reopened)).toEqual([[1, 2], [3], [4, 5]]);
    expect(reopened.tickCount).toBe(0);
    expect(corrupt.map((r) => [r.line, r.reason])).toEqual([
      [2, 'unreadable'],
      [4, 'unreadable'],
      [5, 'unreadable'],
      [7, 'torn'],
    ]);
    const quarantine = join(dir, QUARANTINE_DIR, segment!);
    expect(corrupt.every((r) => r.quarantinedTo === quarantine)).toBe(true);
    expect(await readFile(quarantine, 'utf8')).toBe([...damaged, torn, ''].join('\n'));
    expect(await readdir(dir)).toEqual([QUARANTINE_DIR]);
  });

  it('reads spools of the earlier format (no checksum) as legacy records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const first = batch(1, 3);
    const second = batch(4, 2, 'ETHUSDT');
    const legacy = (ticks: Tick[]) =>
      `${ticks.length} ${JSON.stringify(ticks.map((t) => [t.symbol, t.tradeId, t.price, t.quantity, t.side, t.isBuyerMaker, t.tradeTime, t.receiveTime]))}\n`;
    await writeFile(join(dir, 'ticks-000000000007.spool'), legacy(first) + legacy(second));
    const spool = await TickSpool.open(dir);
    expect(spool.tickCount).toBe(5);
    // New appends carry a checksum, in a segment after the legacy one.
    const third = batch(6, 2);
    await spool.append(third);
    expect(await readdir(dir)).toEqual(['ticks-000000000007.spool', 'ticks-000000000008.spool']);
    const appended = await readFile(join(dir, 'ticks-000000000008.spool'), 'utf8');
    expect(appended).toMatch(/^2 [0-9a-f]{8} \[\["BTCUSDT",6,/);
    const read: Tick[][] = [];
    for (let ticks = await spool.next(); ticks; ticks = await spool.next()) {
      read.push(ticks);
      await spool.ack();
    }
    expect(read).toEqual([first, second, third]);
  });

  it('quarantines a record whose price lost a digit on disk, byte for byte, and replays the others exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const spool = await TickSpool.open(dir);
    const written = [batch(1, 3), batch(4, 3), batch(7, 3)];
    for (const b of written) await spool.append(b);
    await spool.close();
    const [segment] = await readdir(dir);
    const path = join(dir, segment!);
    const bytes = await readFile(path);
    // One digit of the second record's first price: 43250.01 becomes 43259.01.
    const secondStart = bytes.indexOf(0x0a) + 1;
    const at = bytes.indexOf('43250.01', secondStart) + 4;
    bytes[at] = '9'.charCodeAt(0);
    await writeFile(path, bytes);
    const damagedRecord = bytes.subarray(secondStart, bytes.indexOf(0x0a, secondStart) + 1);

    const corrupt: CorruptSpoolRecord[] = [];
    const reopened = await TickSpool.open(dir, { onCorruptRecord: (r) => corrupt.push(r) });
    expect(reopened.tickCount).toBe(6);
    const read: Tick[][] = [];
    for (let ticks = await reopened.next(); ticks; ticks = await reopened.next()) {
      read.push(ticks);
      await reopened.ack();
    }
    expect(read).toEqual([written[0], written[2]]);
    expect(corrupt).toEqual([
      {
        segment: path,
        line: 2,
        offset: secondStart,
        bytes: damagedRecord.length - 1,
        reason: 'checksum',
        quarantinedTo: join(dir, QUARANTINE_DIR, segment!),
      },
    ]);
    expect(await readFile(join(dir, QUARANTINE_DIR, segment!))).toEqual(damagedRecord);
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
