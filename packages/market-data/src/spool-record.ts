import type { Tick } from '@trade/core';
import { crc32 } from 'node:zlib';
import type { CorruptSpoolRecord } from './spool-quarantine.js';
import { fromTuple, toTuple, type TickTuple } from './tick-rows.js';

// A spool record: `<tick count> <CRC-32, 8 hex digits> <JSON array of tick
// tuples>\n`, the checksum over the count, its space and the JSON; or, in
// the earlier format, `<tick count> <JSON>\n` without checksum.

export const NEWLINE = 0x0a;
const SPACE = 0x20;
const OPEN_BRACKET = 0x5b;
const CHECKSUM = /^[0-9a-f]{8}$/;

/** One record's bytes in a segment (newline excluded), and where it was. */
export interface RecordSlice {
  readonly bytes: Buffer;
  readonly line: number;
  readonly offset: number;
}

/** `<count> <crc32 hex> <json>\n`, the checksum over `<count> <json>`. */
export function encodeRecord(ticks: readonly Tick[]): Buffer {
  const head = `${ticks.length} `;
  const record = Buffer.from(`${head}00000000 ${JSON.stringify(ticks.map(toTuple))}\n`);
  const json = record.subarray(head.length + 9, record.length - 1);
  const checksum = crc32(json, crc32(record.subarray(0, head.length)));
  record.write(checksum.toString(16).padStart(8, '0'), head.length, 'latin1');
  return record;
}

/**
 * The newline-terminated records of a segment, and what follows the last
 * newline: a record torn by a crash mid-append, or nothing.
 */
export function splitRecords(bytes: Buffer): {
  records: RecordSlice[];
  torn: RecordSlice | undefined;
} {
  const records: RecordSlice[] = [];
  let offset = 0;
  for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, offset)) {
    records.push({ bytes: bytes.subarray(offset, end), line: records.length + 1, offset });
    offset = end + 1;
  }
  const torn =
    offset < bytes.length
      ? { bytes: bytes.subarray(offset), line: records.length + 1, offset }
      : undefined;
  return { records, torn };
}

export type Checked =
  | { problem: CorruptSpoolRecord['reason']; count?: never; ticks?: never }
  | { problem?: never; count: number; ticks?: Tick[] };

/**
 * Whether a record can be replayed, and its tick count. A checksummed
 * record is checked by its CRC (parsed later); a legacy one, having none,
 * is parsed here and comes with its ticks.
 */
export function checkRecord(record: Buffer): Checked {
  const space = record.indexOf(SPACE);
  const count = space > 0 ? Number(record.toString('latin1', 0, space)) : Number.NaN;
  if (!Number.isSafeInteger(count) || count <= 0) return { problem: 'unreadable' };
  if (record[space + 1] === OPEN_BRACKET) {
    const ticks = parseRecord(record);
    return ticks ? { count, ticks } : { problem: 'unreadable' };
  }
  const hex = record.toString('latin1', space + 1, space + 9);
  if (!CHECKSUM.test(hex) || record[space + 9] !== SPACE) return { problem: 'unreadable' };
  const actual = crc32(record.subarray(space + 10), crc32(record.subarray(0, space + 1)));
  return actual === Number.parseInt(hex, 16) ? { count } : { problem: 'checksum' };
}

/** The ticks of a record (either format), or undefined when it does not parse or its count is wrong. */
export function parseRecord(record: Buffer): Tick[] | undefined {
  const space = record.indexOf(SPACE);
  const count = Number(record.toString('latin1', 0, space));
  const jsonStart = record[space + 1] === OPEN_BRACKET ? space + 1 : space + 10;
  try {
    const tuples = JSON.parse(record.toString('utf8', jsonStart)) as unknown;
    if (!Array.isArray(tuples) || tuples.length !== count) return undefined;
    return (tuples as TickTuple[]).map(fromTuple);
  } catch {
    return undefined;
  }
}
