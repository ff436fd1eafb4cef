import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Debian's nats-server; NATS_SERVER names another binary (as in the tests).
const BINARY = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const READY = 'Server is ready';

/** A private nats-server with JetStream on a free loopback port, file storage in a temporary directory. */
export interface BenchNatsServer {
  readonly url: string;
  readonly pid: number;
  /** Kills it and removes its storage. */
  destroy(): Promise<void>;
}

/** Starts a private nats-server; resolves once it is ready. */
export async function startNatsServer(): Promise<BenchNatsServer> {
  const storeDir = await mkdtemp(join(tmpdir(), 'trade-bench-nats-'));
  const port = await freePort();
  const child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  try {
    await ready(child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(storeDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid!,
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

function ready(child: ChildProcess): Promise<void> {
  let log = '';
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (!log.includes(READY)) return;
      child.stderr!.off('data', onData);
      child.stderr!.resume();
      resolve();
    };
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`nats-server exited (${code ?? signal}) before ready:\n${log}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
