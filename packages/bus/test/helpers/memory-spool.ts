import type { Tick } from '@trade/core';
import type { BusSpool } from '../../src/index.js';
import { MemoryRecordSpool } from './memory-record-spool.js';

/** {@link MemoryRecordSpool} of ticks, as the tick publisher's `BusSpool` (market-data's TickSpool). */
export class MemorySpool extends MemoryRecordSpool<Tick> implements BusSpool {
  get tickCount(): number {
    return this.rowCount;
  }
}
