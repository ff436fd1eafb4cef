import { createQuote, type Quote } from '@trade/core';
import { appendFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeJsonRecord } from './json-record.js';
import { quoteCodec } from './quote-recorder.js';
import { RecordSpool } from './record-spool.js';
import type { CorruptSpoolRecord } from './spool-quarantine.js';

const quotes = (from: number, count: number): Quote[] =>
  Array.from({ length: count }, (_, i) =>
    createQuote({
      symbol: 'BTCUSDT',
      updateId: from + i,
      bidPrice: '43250.01000000',
      bidQty: '0.00000001',
      askPrice: '43250.0200000000000001',
      askQty: '1234567890.12345678',
      receiveTime: 1_700_000_000_123 + i,
    }),
  );

async function drain(spool: RecordSpool<Quote>): Promise<number[][]> {
  const seen: number[][] = [];
  for (let batch = await spool.next(); batch; batch = await spool.next()) {
    seen.push(batch.map((q) => q.updateId));
    await spool.ack();
  }
  return seen;
}

const open = (dir: string, onCorruptRecord?: (r: CorruptSpoolRecord) => void) =>
  RecordSpool.open(dir, { codec: quoteCodec, name: 'quotes', segmentBytes: 600, onCorruptRecord });

describe('RecordSpool', () => {
  it('gives batches back in order and exactly, across a restart and across segments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'record-spool-'));
    const first = await open(dir);
    const written = [quotes(1, 3), quotes(4, 2), quotes(6, 4), quotes(10, 1)];
    for (const batch of written) await first.append(batch);
    expect(first.rowCount).toBe(10);
    await first.close();
    const files = (await readdir(dir)).sort();
    expect(files.length).toBeGreaterThan(1);
    expect(files.every((f) => /^quotes-\d{12}\.spool$/.test(f))).toBe(true);

    const second = await open(dir);
    expect(second.rowCount).toBe(10);
    expect(second.isEmpty).toBe(false);
    const batch = await second.next();
    expect(batch).toEqual(written[0]); // every field, decimals and receive time exact
    expect(await second.next()).toEqual(written[0]); // not acknowledged: the same again
    await second.ack();
    await second.append(quotes(11, 2));
    expect(await drain(second)).toEqual([[4, 5], [6, 7, 8, 9], [10], [11, 12]]);
    expect(second.isEmpty).toBe(true);
    expect(second.rowCount).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('quarantines a record damaged on disk, one torn by a crash and one that does not decode, and replays the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'record-spool-'));
    const spool = await RecordSpool.open(dir, { codec: quoteCodec, name: 'quotes' });
    for (const from of [1, 11, 21]) await spool.append(quotes(from, 10));
    await spool.close();
    const [segment] = await readdir(dir);
    const path = join(dir, segment!);
    const bytes = await readFile(path);
    const second = bytes.indexOf(0x0a) + 1;
    const damaged = Buffer.from(bytes);
    // One digit of a price flips in the second record.
    const digit = damaged.indexOf('43250.01', second) + 4;
    damaged[digit] = damaged[digit] === 0x30 ? 0x31 : 0x30;
    const undecodable = encodeJsonRecord([['BTCUSDT', 'not a number']]);
    await writeFile(path, Buffer.concat([damaged, undecodable]));
    await appendFile(path, '10 0123abcd [["BTCUSDT",9'); // torn

    const corrupt: CorruptSpoolRecord[] = [];
    const reopened = await open(dir, (r) => corrupt.push(r));
    expect(reopened.rowCount).toBe(21); // the damaged and torn records are not counted
    expect(await drain(reopened)).toEqual([
      Array.from({ length: 10 }, (_, i) => 1 + i),
      Array.from({ length: 10 }, (_, i) => 21 + i),
    ]);
    expect(corrupt.map((r) => [r.line, r.reason])).toEqual([
      [2, 'checksum'],
      [5, 'torn'],
      [4, 'unreadable'],
    ]);
    const quarantined = await readFile(join(dir, 'quarantine', segment!));
    const lines = quarantined.toString('latin1').split('\n');
    const original = damaged.subarray(second, damaged.indexOf(0x0a, second)).toString('latin1');
    expect(lines[0]).toBe(original);
    expect(lines[1]).toBe('10 0123abcd [["BTCUSDT",9');
    expect(lines[2]).toBe(undecodable.toString('latin1').trimEnd());
    expect(reopened.rowCount).toBe(0);
  });
});
