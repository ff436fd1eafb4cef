import { ConfigError } from '@trade/core';
import type { RecordRecorderOptions } from './record-recorder-types.js';

/** Throws a {@link ConfigError} naming the first option set to a value it cannot take. */
export function validateRecorderOptions<T>(options: RecordRecorderOptions<T>): void {
  const positive = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new ConfigError(name, value, 'a positive integer');
    }
  };
  positive('batchSize', options.batchSize);
  positive('maxBuffered', options.maxBuffered);
  positive('rejectedFileBytes', options.rejectedFileBytes);
  positive('segmentBytes', options.segmentBytes);
  const { flushIntervalMs, maxRetries, rejectedFilesKept } = options;
  if (
    flushIntervalMs !== undefined &&
    !(Number.isFinite(flushIntervalMs) && flushIntervalMs >= 0)
  ) {
    throw new ConfigError('flushIntervalMs', flushIntervalMs, 'a non-negative number of ms');
  }
  for (const [name, value] of [
    ['maxRetries', maxRetries],
    ['rejectedFilesKept', rejectedFilesKept],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new ConfigError(name, value, 'a non-negative integer');
    }
  }
}
