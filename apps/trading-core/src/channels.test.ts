import { ConfigError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { readChannels } from './channels.js';

describe('readChannels', () => {
  it('is trade and bookTicker by default, and takes any channel from the flag or CHANNELS, each once', () => {
    expect(readChannels({}, undefined)).toEqual(['trade', 'bookTicker']);
    expect(readChannels({ CHANNELS: ' trade ' }, undefined)).toEqual(['trade']);
    expect(readChannels({ CHANNELS: 'trade,bookticker,DEPTH' }, undefined)).toEqual([
      'trade',
      'bookTicker',
      'depth',
    ]);
    expect(readChannels({ CHANNELS: 'trade' }, 'Depth,depth')).toEqual(['depth']);
  });

  it.each([
    [
      { CHANNELS: 'trades' },
      undefined,
      'CHANNELS: expected channels among trade, bookTicker, depth ("trades" is none of them), got "trades"',
    ],
    [
      {},
      'trade,ticker',
      '--channels: expected channels among trade, bookTicker, depth ("ticker" is none of them), got "trade,ticker"',
    ],
    [
      { CHANNELS: 'trade,' },
      undefined,
      'CHANNELS: expected a comma-separated list of channels among trade, bookTicker, depth, got "trade,"',
    ],
    [
      { CHANNELS: '' },
      undefined,
      'CHANNELS: expected a comma-separated list of channels among trade, bookTicker, depth, got an empty string',
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
});
