import { ConfigError } from '@trade/core';

/** Settings of the metrics exporter, from `METRICS_HOST` and `METRICS_PORT`. */
export interface MetricsConfig {
  readonly host: string;
  readonly port: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the exporter settings. A variable that is set but
 * invalid (empty included) throws a ConfigError naming it.
 */
export function readMetricsConfig(env: Env): MetricsConfig {
  return {
    host: readString(env, 'METRICS_HOST', '0.0.0.0'),
    port: readPort(env, 'METRICS_PORT', 9090),
  };
}

function readString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (raw.trim() === '') throw new ConfigError(name, raw, 'a non-empty value');
  return raw.trim();
}

function readPort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const port = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(name, raw, 'a port number from 0 to 65535');
  }
  return port;
}
