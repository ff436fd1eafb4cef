import { ConfigError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { resolveClientOptions } from './client-options.js';

const base = { url: 'wss://x.test:9443/', restUrl: 'https://rest.test//', symbols: ['btcusdt'] };

describe('resolveClientOptions', () => {
  it('fills every default once and normalizes URLs and symbols', () => {
    const o = resolveClientOptions({ ...base, symbols: ['btcusdt', 'BTCUSDT', 'ethusdt'] });
    expect(o).toMatchObject({
      url: 'wss://x.test:9443',
      restUrl: 'https://rest.test',
      symbols: ['BTCUSDT', 'ETHUSDT'],
      streamType: 'trade',
      maxGapTrades: 100_000,
      maxTradeIdJump: 100_000,
      maxHeldTrades: 100_000,
      watchdogMs: 30_000,
      idlePingMs: 10_000,
      maxStreamsPerConnection: 1024,
      controlMessagesPerSecond: 4,
      restWeightPerMinute: 2400,
      maxBufferedEvents: 200_000,
    });
    expect(o.resumeFrom.size).toBe(0);
  });

  it('derives defaults from other settings', () => {
    const o = resolveClientOptions({ ...base, watchdogMs: 900, maxGapTrades: 50 });
    expect(o.idlePingMs).toBe(300);
    expect(o.maxTradeIdJump).toBe(50);
  });

  it('keys resumeFrom by normalized symbol, ignoring symbols not followed', () => {
    const o = resolveClientOptions({ ...base, resumeFrom: { btcusdt: 5, ETHUSDT: -1 } });
    expect([...o.resumeFrom]).toEqual([['BTCUSDT', 5]]);
  });

  it.each([
    [{ url: 'https://x.test' }, 'url'],
    [{ restUrl: 'not a url' }, 'restUrl'],
    [{ symbols: [] }, 'symbols'],
    [{ maxStreamsPerConnection: 0 }, 'maxStreamsPerConnection'],
    [{ maxHeldTrades: 1.5 }, 'maxHeldTrades'],
    [{ maxTradeIdJump: 0 }, 'maxTradeIdJump'],
    [{ resumeFrom: { BTCUSDT: -1 } }, 'resumeFrom.BTCUSDT'],
  ])('refuses %j, naming %s', (bad, setting) => {
    const error = (() => {
      try {
        resolveClientOptions({ ...base, ...bad });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain(setting);
  });
});
