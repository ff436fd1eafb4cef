import { ConfigError } from '@trade/core';

type Env = Readonly<Record<string, string | undefined>>;

/** The exchange channels, as Binance spells them. */
export const KNOWN_CHANNELS = ['trade', 'bookTicker', 'depth'] as const;

/** A channel of {@link KNOWN_CHANNELS}. */
export type Channel = (typeof KNOWN_CHANNELS)[number];

/** What `live` and `collect` stream when `CHANNELS` is unset (DESIGN.md). */
export const DEFAULT_CHANNELS: readonly Channel[] = ['trade', 'bookTicker'];

/**
 * Reads `--channels` (or `CHANNELS`): a comma list of channels,
 * `trade,bookTicker` when unset, matched case-insensitively and returned as
 * Binance spells them, each once. Any other word, or an empty item, is
 * refused with a ConfigError naming the setting.
 *
 * @example
 * ```ts
 * readChannels({}, undefined); // ['trade', 'bookTicker']
 * readChannels({ CHANNELS: 'trade,Depth' }, undefined); // ['trade', 'depth']
 * readChannels({ CHANNELS: 'trades' }, undefined); // throws: CHANNELS: expected channels among ...
 * ```
 */
export function readChannels(env: Env, flag: string | undefined): Channel[] {
  const [name, raw] = flag !== undefined ? ['--channels', flag] : ['CHANNELS', env.CHANNELS];
  if (raw === undefined) return [...DEFAULT_CHANNELS];
  const known = KNOWN_CHANNELS.join(', ');
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) {
    throw new ConfigError(name, raw, `a comma-separated list of channels among ${known}`);
  }
  const channels = parts.map((part) => {
    const channel = KNOWN_CHANNELS.find((c) => c.toLowerCase() === part.toLowerCase());
    if (channel === undefined) {
      throw new ConfigError(name, raw, `channels among ${known} ("${part}" is none of them)`);
    }
    return channel;
  });
  return [...new Set(channels)];
}
