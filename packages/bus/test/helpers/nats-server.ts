import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's nats-server (the `nats-server` package); NATS_SERVER names another binary. */
const BINARY = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const READY = 'Server is ready';

/**
 * A nats-server of its own for a test file: JetStream on, file storage in a
 * temporary directory, loopback on a free port. {@link stop} and
 * {@link start} again (same port, same storage) make an outage.
 *
 * @example
 * ```ts
 * const server = await NatsServer.launch();
 * const nc = await connect({ servers: server.url });
 * await server.stop('SIGKILL'); // outage
 * await server.start(); // back, with the stream as it was
 * await server.destroy();
 * ```
 */
export class NatsServer {
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  static async launch(): Promise<NatsServer> {
    const storeDir = await mkdtemp(join(tmpdir(), 'bus-nats-'));
    const server = new NatsServer(await freePort(), storeDir);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server; resolves once it says it is ready (JetStream recovered). */
  async start(): Promise<void> {
    if (this.#child) throw new Error('nats-server is already running');
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    const child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => {
      process.off('exit', killOnExit);
      if (this.#child === child) this.#child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.#log += chunk.toString();
        if (this.#log.includes(READY)) {
          this.#log = '';
          child.stderr.off('data', onData);
          child.stderr.resume();
          resolve();
        }
      };
      child.stderr.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`nats-server exited (${code ?? signal}) before ready:\n${this.#log}`)),
      );
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** Stops the server (SIGKILL: a crash, frozen or not) and resolves once it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Stops it and removes its storage. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.storeDir, { recursive: true, force: true });
  }
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
