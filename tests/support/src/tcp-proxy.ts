import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that can be taken down (listener closed, every
 * connection cut) and brought back on the same port: a PostgreSQL or Redis
 * outage over real sockets, without touching the shared server.
 *
 * @example
 * ```ts
 * const proxy = new TcpProxy(5432);
 * const port = await proxy.start(); // connect the code under test to `port`
 * await proxy.stop(); // outage: open connections cut, new ones refused
 * await proxy.start(); // back, on the same port
 * ```
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  /** The port it listens on (0 before the first {@link start}). */
  get port(): number {
    return this.#port;
  }

  /** Listens (again) and forwards each connection to the target; resolves with the port. */
  async start(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
    return this.#port;
  }

  /** Cuts every open connection and refuses new ones until {@link start}. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
