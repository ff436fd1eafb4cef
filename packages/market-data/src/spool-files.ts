import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

/** An append whose partial bytes could not be removed from the file. */
export class TornAppendError extends Error {}

/**
 * Writes all of `bytes` at the end of `handle` (opened for appending, now
 * `size` bytes long) and fsyncs. On a short or failed write the file is cut
 * back to `size`, so it never ends in a part of `bytes`; should that fail
 * too, a {@link TornAppendError} says the part stays.
 */
export async function appendWhole(handle: FileHandle, bytes: Buffer, size: number): Promise<void> {
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
      // The kernel reports a full disk on the call after a short write; a
      // write of nothing would loop forever.
      if (bytesWritten <= 0) throw new Error('write took no bytes');
      written += bytesWritten;
    }
    await handle.datasync();
  } catch (error) {
    try {
      await handle.truncate(size);
      await handle.datasync();
    } catch (truncateError) {
      throw new TornAppendError(`${messageOf(error)}; cutting the file back failed too`, {
        cause: truncateError,
      });
    }
    throw error;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/** fsyncs a directory, so the files created, renamed or deleted in it stay so after a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
