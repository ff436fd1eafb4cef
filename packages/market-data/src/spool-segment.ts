import type { Tick } from '@trade/core';
import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ignoreMissing } from './spool-files.js';
import { checkRecord, parseRecord, splitRecords } from './spool-record.js';

/** A spool segment file's name: `ticks-<12-digit sequence>.spool`. */
const SEGMENT = /^ticks-(\d{12})\.spool$/;

/** One segment file of the spool, and what its records hold. */
export interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Highest trade id per symbol among the segment's ticks. */
  readonly highestIds: Map<string, number>;
  /** Bytes of whole records in the file. */
  bytes: number;
  /** Ticks of its readable records not yet acknowledged. */
  ticks: number;
}

/** The file name of segment `seq`. */
export function segmentName(seq: number): string {
  return `ticks-${String(seq).padStart(12, '0')}.spool`;
}

/**
 * The segments in `dir`, oldest first, with the ticks and highest trade ids
 * of their readable records (damaged ones are left out: they are
 * quarantined when their segment is replayed). Empty segment files are
 * deleted.
 */
export async function indexSegments(dir: string): Promise<Segment[]> {
  const found = (await readdir(dir))
    .map((name) => SEGMENT.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
  const segments: Segment[] = [];
  for (const { seq, path } of found) {
    const bytes = await readFile(path);
    if (bytes.length === 0) {
      await unlink(path).catch(ignoreMissing);
      continue;
    }
    const segment: Segment = { seq, path, highestIds: new Map(), bytes: bytes.length, ticks: 0 };
    for (const record of splitRecords(bytes).records) {
      const checked = checkRecord(record.bytes);
      if (checked.problem) continue;
      segment.ticks += checked.count;
      noteHighestIds(segment.highestIds, checked.ticks ?? parseRecord(record.bytes) ?? []);
    }
    segments.push(segment);
  }
  return segments;
}

/** Raises `highest` to the highest trade id per symbol among `ticks`. */
export function noteHighestIds(highest: Map<string, number>, ticks: readonly Tick[]): void {
  for (const { symbol, tradeId } of ticks) {
    if (tradeId > (highest.get(symbol) ?? -Infinity)) highest.set(symbol, tradeId);
  }
}
