import type { Tick } from '@trade/core';
import { readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TickSpool } from '../src/tick-spool.js';
import { makeTicks, mountTmpfs } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fullDisk(sizeBytes = 256 * 1024) {
  const disk = await mountTmpfs(sizeBytes);
  cleanups.push(disk.unmount);
  return disk.dir;
}

async function drain(spool: TickSpool): Promise<Tick[]> {
  const read: Tick[] = [];
  for (let ticks = await spool.next(); ticks; ticks = await spool.next()) {
    read.push(...ticks);
    await spool.ack();
  }
  return read;
}

const segmentFiles = async (dir: string) =>
  (await readdir(dir)).filter((name) => name.endsWith('.spool'));

describe('TickSpool on a full disk (a real 256 KiB tmpfs)', () => {
  it('acknowledges only appends that reached the disk whole, keeps a bounded number of files, and reads back exactly those', async () => {
    const dir = await fullDisk();
    // Half the disk taken by another file, deleted once appends fail: the
    // appends after that go on in the segment the failed ones were cut from.
    const filler = join(dir, 'filler.bin');
    await writeFile(filler, Buffer.alloc(128 * 1024));
    const spool = await TickSpool.open(dir, { segmentBytes: 64 * 1024 });
    const acknowledged: Tick[] = [];
    let failures = 0;
    let mostFiles = 0;
    let nextId = 1;
    // Batches of varied sizes, two symbols, until 60 appends have failed:
    // many appends end part-way through a batch when the disk fills.
    for (let i = 0; failures < 60; i++) {
      const count = 3 + ((i * 37) % 90);
      const batch = makeTicks(count, {
        symbol: i % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT',
        startId: nextId,
      });
      nextId += count;
      try {
        await spool.append(batch);
        acknowledged.push(...batch);
      } catch {
        failures += 1;
        if (failures === 30) await unlink(filler);
      }
      mostFiles = Math.max(mostFiles, (await segmentFiles(dir)).length);
    }
    expect(acknowledged.length).toBeGreaterThan(1000);
    // 256 KiB in 64 KiB segments: at most 4 full ones and the one being written.
    expect(mostFiles).toBeLessThanOrEqual(5);
    expect(spool.tickCount).toBe(acknowledged.length);
    await spool.close();

    const reopened = await TickSpool.open(dir);
    expect(reopened.tickCount).toBe(acknowledged.length);
    // Field by field, in order: every acknowledged tick and nothing else.
    expect(await drain(reopened)).toEqual(acknowledged);
    expect(await segmentFiles(dir)).toEqual([]);

    // The disk has room again: appends succeed and read back.
    const later = makeTicks(500, { startId: nextId });
    await reopened.append(later);
    expect(await drain(reopened)).toEqual(later);
    await reopened.close();
  });
});
