import { InvalidInputError, type PaperFill } from '@trade/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PaperTradeRepository } from '../src/index.js';
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

    it('refuses a malformed fill by name and writes nothing', async () => {
      await expect(repository.write([fill, { ...fill, fee: '-1' }])).rejects.toThrow(
        InvalidInputError,
      );
      await expect(repository.write([{ ...fill, side: 'HOLD' as 'BUY' }])).rejects.toThrow(/side/);
      await expect(repository.write([{ ...fill, cashAfter: '1e3' }])).rejects.toThrow(/cashAfter/);
      expect(await repository.fills()).toEqual([]);
      await repository.write([]);
    });
  },
);
