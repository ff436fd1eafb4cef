import { ConfigError } from '@trade/core';

type Env = Readonly<Record<string, string | undefined>>;

/** The exchange channels the bus contract names, as Binance spells them. */
export const KNOWN_CHANNELS = ['trade', 'bookTicker', 'depth'] as const;

/** A channel of {@link KNOWN_CHANNELS}. */
export type Channel = (typeof KNOWN_CHANNELS)[number];

/** The channels `collect` publishes today; the others are refused by name. */
export const SUPPORTED_CHANNELS: readonly Channel[] = ['trade'];

/** Which command reads the channels: its default, and what it supports. */
export interface ChannelUse {
  readonly command: string;
  readonly fallback: readonly Channel[];
  readonly supported: readonly Channel[];
}

/** `collect`: trades only until the bus carries quotes and books. */
export const COLLECT_CHANNELS: ChannelUse = {
  command: 'collect',
  fallback: ['trade'],
  supported: SUPPORTED_CHANNELS,
};

/** `live`: every channel, trades and quotes by default (DESIGN.md). */
export const LIVE_CHANNELS: ChannelUse = {
  command: 'live',
  fallback: ['trade', 'bookTicker'],
  supported: KNOWN_CHANNELS,
};

/**
 * Reads `--channels` (or `CHANNELS`): a comma list of channels, the
 * command's default when unset (`trade` for collect, `trade,bookTicker` for live), matched case-insensitively and returned as Binance spells them,
 * each once. A channel the contract names but the command does not
 * implement yet (`bookTicker` and `depth` for `collect`, until the bus
 * carries them) is refused with a ConfigError naming the setting and the
 * channels supported today, as is any other word.
 *
 * @example
 * ```ts
 * readChannels({}, undefined); // ['trade']
 * readChannels({ CHANNELS: 'trade,depth' }, undefined); // throws: CHANNELS: expected trade, ...
 * ```
 */
export function readChannels(
  env: Env,
  flag: string | undefined,
  use: ChannelUse = COLLECT_CHANNELS,
): Channel[] {
  const [name, raw] = flag !== undefined ? ['--channels', flag] : ['CHANNELS', env.CHANNELS];
  if (raw === undefined) return [...use.fallback];
  const supported = use.supported.join(', ');
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) {
    throw new ConfigError(
      name,
      raw,
      `a comma-separated list of channels (supported today: ${supported})`,
    );
  }
  const channels = parts.map((part) => {
    const channel = KNOWN_CHANNELS.find((known) => known.toLowerCase() === part.toLowerCase());
    if (channel === undefined) {
      throw new ConfigError(
        name,
        raw,
        `channels among ${KNOWN_CHANNELS.join(', ')} ("${part}" is none of them; supported today: ${supported})`,
      );
    }
    return channel;
  });
  const unsupported = channels.filter((channel) => !use.supported.includes(channel));
  if (unsupported.length > 0) {
    throw new ConfigError(
      name,
      raw,
      `${supported}: the only channel ${use.command} supports today (${[...new Set(unsupported)].join(', ')} not yet)`,
    );
  }
  return [...new Set(channels)];
}
