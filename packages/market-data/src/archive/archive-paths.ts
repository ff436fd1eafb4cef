import { InvalidInputError } from '@trade/core';
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ArchivedTable } from './archived-table.js';

// A symbol becomes a file name: letters, digits, `_` and `-` only, so none
// can climb out of its day's directory.
const FILE_SAFE_SYMBOL = /^[A-Za-z0-9_-]{1,64}$/;

/** `<dir>/<table>`: one directory per archived day below it. */
export function tableDir(dir: string, table: ArchivedTable): string {
  return join(dir, table);
}

/** `<dir>/<table>/<day>/<SYMBOL>.parquet`. */
export function symbolFile(dir: string, table: ArchivedTable, day: string, symbol: string): string {
  if (!FILE_SAFE_SYMBOL.test(symbol)) {
    throw new InvalidInputError('symbol', symbol, 'letters, digits, _ or - (a file name)');
  }
  return join(tableDir(dir, table), day, `${symbol}.parquet`);
}

/**
 * A fresh temporary name beside `file`: hidden, unique to this write, on the
 * same file system, so the checked file can be renamed into place at once.
 */
export function tempFileBeside(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}-${randomUUID()}.tmp`);
}

/** Whether `path` exists; errors other than its absence are thrown. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
