import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Debian's nats-server; NATS_SERVER names another binary. As in @trade/bus's tests.
const BINARY = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const READY = 'Server is ready';

/** A private nats-server with JetStream, on a free loopback port, storing in a temporary directory. */
export class NatsServer {
  #child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    /** Cluster arguments: this server's name and route port, and the routes to every member. */
    private readonly clusterArgs: readonly string[] = [],
  ) {}

  static async launch(): Promise<NatsServer> {
    const storeDir = await mkdtemp(join(tmpdir(), 'trading-core-nats-'));
    const server = new NatsServer(await freePort(), storeDir);
    await server.start();
    return server;
  }

  /**
   * `size` servers forming one JetStream cluster, named `n1`, `n2`, ...
   * Each is ready to take connections; the cluster elects its JetStream
   * leader a moment later (creating a stream fails until then).
   */
  static async cluster(size: number): Promise<NatsServer[]> {
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) routePorts.push(await freePort());
    const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(',');
    const servers: NatsServer[] = [];
    for (let i = 0; i < size; i++) {
      const storeDir = await mkdtemp(join(tmpdir(), 'trading-core-nats-'));
      const args = [
        '--server_name',
        `n${i + 1}`,
        '--cluster_name',
        'trading-core-test',
        '--cluster',
        `nats://127.0.0.1:${routePorts[i]}`,
        '--routes',
        routes,
      ];
      servers.push(new NatsServer(await freePort(), storeDir, args));
    }
    await Promise.all(servers.map((server) => server.start()));
    return servers;
  }

  /** The server's name in a cluster (`n1`, ...). */
  get name(): string | undefined {
    const at = this.clusterArgs.indexOf('--server_name');
    return at === -1 ? undefined : this.clusterArgs[at + 1];
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Kills the server (an outage); {@link start} brings it back with its storage. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server on its port and storage; resolves once it is ready. */
  async start(): Promise<void> {
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-js',
      '-sd',
      this.storeDir,
      ...this.clusterArgs,
    ];
    const child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (!log.includes(READY)) return;
        child.stderr.off('data', onData);
        child.stderr.resume();
        resolve();
      };
      child.stderr.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`nats-server exited (${code ?? signal}) before ready:\n${log}`)),
      );
    });
  }

  /** Kills the server and removes its storage. */
  async destroy(): Promise<void> {
    await this.stop();
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
