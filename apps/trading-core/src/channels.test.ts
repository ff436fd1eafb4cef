import { ConfigError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { LIVE_CHANNELS, readChannels } from './channels.js';

describe('readChannels', () => {
  it('is trade by default, and takes trade from the flag or CHANNELS, each once', () => {
    expect(readChannels({}, undefined)).toEqual(['trade']);
    expect(readChannels({ CHANNELS: ' trade ' }, undefined)).toEqual(['trade']);
    expect(readChannels({ CHANNELS: 'depth' }, 'Trade,trade')).toEqual(['trade']);
  });

  it.each([
    [
      { CHANNELS: 'trade,bookTicker' },
      undefined,
      'CHANNELS: expected trade: the only channel collect supports today (bookTicker not yet), got "trade,bookTicker"',
    ],
    [
      {},
      'depth,bookticker',
      '--channels: expected trade: the only channel collect supports today (depth, bookTicker not yet), got "depth,bookticker"',
    ],
    [
      { CHANNELS: 'trades' },
      undefined,
      'CHANNELS: expected channels among trade, bookTicker, depth ("trades" is none of them; supported today: trade), got "trades"',
    ],
    [
      { CHANNELS: 'trade,' },
      undefined,
      'CHANNELS: expected a comma-separated list of channels (supported today: trade), got "trade,"',
    ],
    [
      { CHANNELS: '' },
      undefined,
      'CHANNELS: expected a comma-separated list of channels (supported today: trade), got an empty string',
    ],
  ])('%j %j is refused naming the setting', (env, flag, message) => {
    let caught: unknown;
    try {
      readChannels(env, flag);
    } catch (error) {
      caught = error;
    }
    expect(ConfigError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toBe(message);
  });

  it('for live: trade and bookTicker by default, and every channel', () => {
    expect(readChannels({}, undefined, LIVE_CHANNELS)).toEqual(['trade', 'bookTicker']);
    expect(readChannels({ CHANNELS: 'trade,bookticker,depth' }, undefined, LIVE_CHANNELS)).toEqual([
      'trade',
      'bookTicker',
      'depth',
    ]);
    expect(readChannels({}, 'depth', LIVE_CHANNELS)).toEqual(['depth']);
    expect(() => readChannels({ CHANNELS: 'trades' }, undefined, LIVE_CHANNELS)).toThrow(
      'CHANNELS: expected channels among trade, bookTicker, depth ("trades" is none of them; supported today: trade, bookTicker, depth), got "trades"',
    );
  });
});
