import { createTick, type Tick } from '@trade/core';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexSegments, segmentName } from './spool-segment.js';
import { encodeRecord } from './spool-record.js';

const ticks = (symbol: string, ids: number[]): Tick[] =>
  ids.map((tradeId) =>
    createTick({
      symbol,
      tradeId,
      price: '1.5',
      quantity: '2',
      isBuyerMaker: false,
      tradeTime: 1_700_000_000_000 + tradeId,
    }),
  );

describe('indexSegments', () => {
  it('lists the segment files oldest first, counting readable ticks and the highest ids, deleting empty ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-segment-'));
    await writeFile(
      join(dir, segmentName(12)),
      Buffer.concat([
        encodeRecord(ticks('BTCUSDT', [7, 9])),
        Buffer.from('3 deadbeef [[damaged]]\n'), // fails its checksum: not counted
        encodeRecord(ticks('ETHUSDT', [4])),
      ]),
    );
    await writeFile(join(dir, segmentName(3)), encodeRecord(ticks('BTCUSDT', [2, 3, 4])));
    await writeFile(join(dir, segmentName(5)), '');
    await writeFile(join(dir, 'rejected.jsonl'), '{}\n');
    await writeFile(join(dir, 'ticks-1.spool'), encodeRecord(ticks('BTCUSDT', [1]))); // not a segment name

    const segments = await indexSegments(dir);

    expect(segmentName(12)).toBe('ticks-000000000012.spool');
    expect(segments.map(({ seq, ticks: count, highestIds }) => [seq, count, highestIds])).toEqual([
      [3, 3, new Map([['BTCUSDT', 4]])],
      [
        12,
        3,
        new Map([
          ['BTCUSDT', 9],
          ['ETHUSDT', 4],
        ]),
      ],
    ]);
    expect(segments[0]!.path).toBe(join(dir, segmentName(3)));
    expect((await readdir(dir)).sort()).toEqual([
      'rejected.jsonl',
      'ticks-000000000003.spool',
      'ticks-000000000012.spool',
      'ticks-1.spool',
    ]);
  });
});
