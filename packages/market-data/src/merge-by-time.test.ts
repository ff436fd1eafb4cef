import { describe, expect, it } from 'vitest';
import { mergeByTime } from './merge-by-time.js';

async function* of<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

const collect = async <T>(source: AsyncIterable<T>) => {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
};

type Row = { t: number; id: number; from: string };
const key = (r: Row) => [r.t, r.id] as const;

describe('mergeByTime', () => {
  it('interleaves two ordered streams by time then id, a shared key once from the first', async () => {
    const db: Row[] = [
      { t: 5, id: 3, from: 'db' },
      { t: 7, id: 4, from: 'db' },
      { t: 9, id: 6, from: 'db' },
    ];
    const archive: Row[] = [
      { t: 1, id: 1, from: 'archive' },
      { t: 5, id: 2, from: 'archive' },
      { t: 7, id: 4, from: 'archive' },
      { t: 12, id: 7, from: 'archive' },
    ];
    const merged = await collect(mergeByTime(of(db), of(archive), key));
    expect(merged.map((r) => `${r.id}:${r.from}`)).toEqual([
      '1:archive',
      '2:archive',
      '3:db',
      '4:db',
      '6:db',
      '7:archive',
    ]);
  });

  it('passes either stream through when the other is empty', async () => {
    const rows: Row[] = [
      { t: 1, id: 1, from: 'x' },
      { t: 2, id: 2, from: 'x' },
    ];
    expect(await collect(mergeByTime(of(rows), of<Row>([]), key))).toEqual(rows);
    expect(await collect(mergeByTime(of<Row>([]), of(rows), key))).toEqual(rows);
  });
});
