import type { PaperFill, PaperFillWriter } from '@trade/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PaperTradeRepository, type PaperFillWriteResult } from '../src/index.js';
import { openBackend, type Backend, type BackendName } from './backends.js';

const fill: PaperFill = {
  strategy: 'sma',
  symbol: 'BTCUSDT',
  side: 'BUY',
  price: '43250.01000000',
  quantity: '0.0000000012345678',
  fee: '0.000043250010',
  cashAfter: '-12.5',
  positionAfter: '0.0000000012345678',
  timestamp: 1_700_000_000_123,
};

describe.each<BackendName>(['postgresql', 'pglite'])(
  'PaperTradeRepository on %s',
  (backendName) => {
    let backend: Backend;
    let repository: PaperTradeRepository;

    beforeAll(async () => {
      backend = await openBackend(backendName);
      repository = new PaperTradeRepository(backend.db);
    });
    afterAll(async () => backend?.close());
    beforeEach(async () => backend.truncate());

    it('writes one row per fill, in one statement, exactly', async () => {
      const second: PaperFill = {
        ...fill,
        strategy: 'rsi "quoted", {braced}',
        side: 'SELL',
        cashAfter: '100',
        timestamp: 1_700_000_000_999,
      };
      await repository.write([fill, second]);
      expect(backend.statements).toBe(1);
      const stored = await repository.fills();
      expect(stored.map(({ id: _id, ...rest }) => rest)).toEqual([fill, second]);
      expect(stored[1]!.id).toBeGreaterThan(stored[0]!.id);
      expect((await repository.fills({ strategy: 'sma' })).length).toBe(1);
      expect((await repository.fills({ symbol: 'ETHUSDT' })).length).toBe(0);
    });

    it('sets malformed fills aside by field, with the reason, and writes the others in order', async () => {
      const fills: PaperFill[] = [
        fill,
        { ...fill, fee: '-1' },
        { ...fill, timestamp: fill.timestamp + 1 },
        { ...fill, side: 'HOLD' as 'BUY' },
        { ...fill, cashAfter: '1e3' },
        // Over the 64 characters a decimal string may have.
        { ...fill, price: `1.${'0'.repeat(70)}` },
        { ...fill, timestamp: fill.timestamp + 2 },
      ];
      const result = await repository.writeFills(fills);
      expect(result.written).toBe(3);
      expect(result.refused.map((r) => [r.fill, r.reason.split(':')[0]])).toEqual([
        [fills[1], 'invalid fee'],
        [fills[3], 'invalid side'],
        [fills[4], 'invalid cashAfter'],
        [fills[5], 'invalid price'],
      ]);
      const stored = await repository.fills();
      expect(stored.map(({ id: _id, ...rest }) => rest)).toEqual([fills[0], fills[2], fills[6]]);
      expect(await repository.writeFills([])).toEqual({ written: 0, refused: [] });
    });

    it('sets aside a fill the database refuses, stores every other exactly and in order, and says so through the PaperFillWriter contract', async () => {
      const fills: PaperFill[] = Array.from({ length: 10 }, (_, i) => ({
        ...fill,
        price: `4325${i}.01000000`,
        timestamp: fill.timestamp + i,
      }));
      // Valid for the checks, refused by the database (SQLSTATE 22021).
      fills[6] = { ...fills[6]!, strategy: 'sma\u0000' };
      const writer: PaperFillWriter = repository;
      const result = (await writer.write(fills)) as unknown as PaperFillWriteResult;
      expect(result.written).toBe(9);
      expect(result.refused).toHaveLength(1);
      expect(result.refused[0]!.fill).toBe(fills[6]);
      expect(result.refused[0]!.reason).toMatch(/0x00/);
      const stored = await repository.fills();
      expect(stored.map(({ id: _id, ...rest }) => rest)).toEqual(fills.filter((_, i) => i !== 6));
    });
  },
);
