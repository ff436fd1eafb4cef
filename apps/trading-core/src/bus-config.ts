import { ConfigError } from '@trade/core';
import { DEFAULT_CONSUMER, DEFAULT_STREAM } from '@trade/bus';
import { readLiveConfig, type LiveConfig } from './config.js';
import { redactUrl } from './secrets.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Where the bus is: `NATS_URL` or `--nats`, and the stream. */
export interface BusConfig {
  /** One URL per server of the cluster, as given (passwords included: never log them). */
  readonly servers: readonly string[];
  /** The servers for logs, passwords masked. */
  readonly description: string;
  readonly stream: string;
  /** The durable consumer of the writers. */
  readonly consumer: string;
  /** Copies of each message when this process creates the stream (`NATS_REPLICAS`, 1-5). */
  readonly replicas: number;
}

/** Everything `store` needs: the bus, and the storage settings `live` reads. */
export interface StoreConfig extends LiveConfig {
  readonly bus: BusConfig;
  /** PostgreSQL: required, several writers on several hosts share it. */
  readonly databaseUrl: string;
}

const PROTOCOLS = ['nats:', 'tls:'];
const NAME = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * Reads `NATS_URL` (or the `--nats` flag), `NATS_STREAM`, `NATS_CONSUMER`
 * and `NATS_REPLICAS`. A missing or bad value throws a ConfigError naming it.
 */
export function readBusConfig(env: Env, flags: { nats?: string | undefined } = {}): BusConfig {
  const [name, raw] =
    flags.nats !== undefined ? ['--nats', flags.nats] : ['NATS_URL', env.NATS_URL];
  const expected = 'a nats:// URL, or a comma-separated list of them (one per server)';
  if (raw === undefined) throw new ConfigError(name, undefined, expected);
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.some((part) => !validUrl(part))) {
    throw new ConfigError(name, parts.map(redactUrl).join(','), expected);
  }
  return {
    servers: parts,
    description: parts.map(redactUrl).join(','),
    stream: readName(env, 'NATS_STREAM', DEFAULT_STREAM),
    consumer: readName(env, 'NATS_CONSUMER', DEFAULT_CONSUMER),
    replicas: readReplicas(env),
  };
}

/** `store`'s settings: the bus first (its absence is the likeliest mistake), then `DATABASE_URL`. */
export function readStoreConfig(env: Env, flags: { nats?: string | undefined } = {}): StoreConfig {
  const bus = readBusConfig(env, flags);
  const live = readLiveConfig(env);
  if (live.databaseUrl === undefined) {
    throw new ConfigError(
      'DATABASE_URL',
      undefined,
      'a postgres:// URL (store writes to PostgreSQL, shared by every writer)',
    );
  }
  return { ...live, databaseUrl: live.databaseUrl, bus };
}

function validUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return PROTOCOLS.includes(url.protocol) && url.hostname !== '';
  } catch {
    return false;
  }
}

function readName(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (!NAME.test(raw.trim())) {
    throw new ConfigError(name, raw, 'a name of letters, digits, - and _');
  }
  return raw.trim();
}

// JetStream keeps at most 5 copies of a stream's messages.
const MAX_REPLICAS = 5;

function readReplicas(env: Env): number {
  const raw = env.NATS_REPLICAS;
  if (raw === undefined) return 1;
  const replicas = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new ConfigError(
      'NATS_REPLICAS',
      raw,
      `an integer from 1 to ${MAX_REPLICAS} (copies of each message in a JetStream cluster)`,
    );
  }
  return replicas;
}
