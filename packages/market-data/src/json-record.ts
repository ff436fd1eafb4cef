import { crc32 } from 'node:zlib';

// A record of the generic spool: `<row count> <CRC-32, 8 hex digits> <JSON
// array of encoded rows>\n`, the checksum over the count, its space and the
// JSON: the layout of the tick spool's records, with any JSON as the rows.

const SPACE = 0x20;
const CHECKSUM = /^[0-9a-f]{8}$/;

/** `<count> <crc32 hex> <json>\n` of `values` (the rows, already encoded), the checksum over `<count> <json>`. */
export function encodeJsonRecord(values: readonly unknown[]): Buffer {
  const head = `${values.length} `;
  const record = Buffer.from(`${head}00000000 ${JSON.stringify(values)}\n`);
  const json = record.subarray(head.length + 9, record.length - 1);
  const checksum = crc32(json, crc32(record.subarray(0, head.length)));
  record.write(checksum.toString(16).padStart(8, '0'), head.length, 'latin1');
  return record;
}

/** Whether a record (newline excluded) is whole, and its row count; its JSON is parsed later. */
export function checkJsonRecord(
  record: Buffer,
): { problem: 'checksum' | 'unreadable'; count?: never } | { problem?: never; count: number } {
  const space = record.indexOf(SPACE);
  const count = space > 0 ? Number(record.toString('latin1', 0, space)) : Number.NaN;
  if (!Number.isSafeInteger(count) || count <= 0) return { problem: 'unreadable' };
  const hex = record.toString('latin1', space + 1, space + 9);
  if (!CHECKSUM.test(hex) || record[space + 9] !== SPACE) return { problem: 'unreadable' };
  const actual = crc32(record.subarray(space + 10), crc32(record.subarray(0, space + 1)));
  return actual === Number.parseInt(hex, 16) ? { count } : { problem: 'checksum' };
}

/** The encoded rows of a record that passed {@link checkJsonRecord}, or undefined when its JSON or count is wrong. */
export function parseJsonRecord(record: Buffer): unknown[] | undefined {
  const space = record.indexOf(SPACE);
  const count = Number(record.toString('latin1', 0, space));
  try {
    const values = JSON.parse(record.toString('utf8', space + 10)) as unknown;
    return Array.isArray(values) && values.length === count ? values : undefined;
  } catch {
    return undefined;
  }
}
