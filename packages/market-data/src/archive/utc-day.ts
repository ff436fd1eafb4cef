import { InvalidInputError } from '@trade/core';

export const DAY_MS = 86_400_000;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `text` names a real UTC day as `YYYY-MM-DD`. */
export function isUtcDay(text: string): boolean {
  if (!DAY.test(text)) return false;
  const ms = Date.parse(`${text}T00:00:00.000Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/** Midnight UTC starting `day` (`YYYY-MM-DD`), in epoch milliseconds; throws on anything else. */
export function utcDayStart(day: string): number {
  if (typeof day !== 'string' || !isUtcDay(day)) {
    throw new InvalidInputError('day', day, 'a UTC day as YYYY-MM-DD');
  }
  return Date.parse(`${day}T00:00:00.000Z`);
}

/** Whether UTC `day` holds any instant of `[fromMs, toMs)`. */
export function dayOverlaps(day: string, fromMs: number, toMs: number): boolean {
  const start = utcDayStart(day);
  return start < toMs && start + DAY_MS > fromMs;
}
