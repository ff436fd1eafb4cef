import type { Logger } from '@trade/core';
import { sql } from 'kysely';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDb } from '../src/index.js';

// A connection the server ends right after opening it: pg_terminate_backend
// or a restart catching a session the pool has just connected. The server's
// ReadyForQuery and its FATAL then arrive in one read, and pg reports the
// FATAL as an 'error' event before any await resumes: a client without a
// listener by then would crash the process.

/** One backend message: its type byte, its length, its body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const authenticationOk = message('R', Buffer.from([0, 0, 0, 0]));
const readyForQuery = message('Z', Buffer.from('I', 'latin1'));
const terminated = message(
  'E',
  Buffer.from(
    [
      'SFATAL',
      'VFATAL',
      'C57P01',
      'Mterminating connection due to administrator command',
      '',
      '',
    ].join('\0'),
    'latin1',
  ),
);

/** A server that accepts the startup, then in one write says ready and terminates the session. */
async function terminatingServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.end(Buffer.concat([authenticationOk, readyForQuery, terminated]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** pg's Client, noting the 'error' events nobody listened to instead of throwing them. */
function probeClient(unheard: Error[]): typeof pg.Client {
  return class extends pg.Client {
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'error' && this.listenerCount('error') === 0) {
        unheard.push(args[0] as Error);
        return false;
      }
      return super.emit(event, ...args);
    }
  };
}

function recordingLogger(): { logger: Logger; warnings: { err?: unknown; msg?: string }[] } {
  const warnings: { err?: unknown; msg?: string }[] = [];
  const ignore = () => undefined;
  const logger: Logger = {
    debug: ignore,
    info: ignore,
    warn: (fields, msg) => warnings.push({ ...fields, msg }),
    error: ignore,
  };
  return { logger, warnings };
}

describe('createPostgresDb, a connection the server terminates as it opens', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('logs the error of the first connection and of the next one, opened for a waiting query', async () => {
    const server = await terminatingServer();
    cleanups.push(server.close);
    const unheard: Error[] = [];
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: server.port,
      user: 'postgres',
      database: 'postgres',
      // The second query waits for the first connection, then gets a new one.
      max: 1,
      connectionTimeoutMillis: 60_000,
      Client: probeClient(unheard),
    });
    const { logger, warnings } = recordingLogger();
    const db = createPostgresDb({ pool, logger });
    cleanups.push(() => db.destroy());

    const results = await Promise.allSettled([
      sql`select 1`.execute(db),
      sql`select 2`.execute(db),
    ]);

    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(unheard).toEqual([]);
    const lost = warnings.filter(
      (w) => w.msg === 'database: connection lost' && (w.err as { code?: string }).code === '57P01',
    );
    expect(lost).toHaveLength(2);
  });
});
