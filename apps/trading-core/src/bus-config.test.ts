import { describe, expect, it } from 'vitest';
import { readBusConfig, readStoreConfig } from './bus-config.js';

describe('readBusConfig', () => {
  it('reads a cluster list, the stream and the consumer, with defaults', () => {
    expect(readBusConfig({ NATS_URL: 'nats://a:4222, nats://u:pw-9931@b:4222' })).toEqual({
      servers: ['nats://a:4222', 'nats://u:pw-9931@b:4222'],
      description: 'nats://a:4222,nats://u:***@b:4222',
      stream: 'TRADES',
      consumer: 'store',
      replicas: 1,
    });
    expect(
      readBusConfig(
        {
          NATS_URL: 'nats://ignored:1',
          NATS_STREAM: 'T2',
          NATS_CONSUMER: 'w-1',
          NATS_REPLICAS: '3',
        },
        { nats: 'tls://h:4443' },
      ),
    ).toMatchObject({ servers: ['tls://h:4443'], stream: 'T2', consumer: 'w-1', replicas: 3 });
  });

  it.each([
    [{}, 'NATS_URL: expected a nats:// URL'],
    [{ NATS_URL: '' }, 'NATS_URL: expected a nats:// URL'],
    [{ NATS_URL: 'nats://a:4222,' }, 'NATS_URL: expected a nats:// URL'],
    [{ NATS_URL: 'redis://u:pw-9931@a' }, 'got "redis://u:***@a"'],
    [{ NATS_URL: 'nats://a', NATS_STREAM: 'md.trades' }, 'NATS_STREAM: expected a name'],
    [{ NATS_URL: 'nats://a', NATS_CONSUMER: '' }, 'NATS_CONSUMER: expected a name'],
    [
      { NATS_URL: 'nats://a', NATS_REPLICAS: '0' },
      'NATS_REPLICAS: expected an integer from 1 to 5',
    ],
    [
      { NATS_URL: 'nats://a', NATS_REPLICAS: '6' },
      'NATS_REPLICAS: expected an integer from 1 to 5',
    ],
    [{ NATS_URL: 'nats://a', NATS_REPLICAS: '2.5' }, 'NATS_REPLICAS'],
    [{ NATS_URL: 'nats://a', NATS_REPLICAS: '' }, 'NATS_REPLICAS'],
  ])('%j fails naming the setting', (env, message) => {
    expect(() => readBusConfig(env)).toThrow(message);
  });

  it('store needs DATABASE_URL, after the bus', () => {
    expect(() => readStoreConfig({})).toThrow('NATS_URL');
    expect(() => readStoreConfig({ NATS_URL: 'nats://a' })).toThrow(
      'DATABASE_URL: expected a postgres:// URL',
    );
    expect(
      readStoreConfig({ NATS_URL: 'nats://a', DATABASE_URL: 'postgres://db/x' }).databaseUrl,
    ).toBe('postgres://db/x');
  });
});
