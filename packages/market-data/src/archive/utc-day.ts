import { DAY_MS, dayFromText } from '../daily-partitions.js';

export { DAY_MS };

/** Whether `text` names a real UTC day as `YYYY-MM-DD`. */
export function isUtcDay(text: string): boolean {
  try {
    dayFromText(text);
    return true;
  } catch {
    return false;
  }
}

/** Midnight UTC starting `day` (`YYYY-MM-DD`), in epoch milliseconds; throws on anything else. */
export function utcDayStart(day: string): number {
  return dayFromText(day) * DAY_MS;
}

/** Whether UTC `day` holds any instant of `[fromMs, toMs)`. */
export function dayOverlaps(day: string, fromMs: number, toMs: number): boolean {
  const start = utcDayStart(day);
  return start < toMs && start + DAY_MS > fromMs;
}
