import { request } from 'node:http';
import { createServer } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createTradingMetrics, startMetricsServer, type MetricsServer } from '../src/index.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Partial<Parameters<typeof startMetricsServer>[0]> = {}) {
  const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
  const server = await startMetricsServer({
    registry: metrics.registry,
    host: '127.0.0.1',
    port: 0,
    ...options,
  });
  servers.push(server);
  return { metrics, server };
}

describe('startMetricsServer', () => {
  it('serves the catalogue on GET /metrics in the Prometheus text format', async () => {
    const { metrics, server } = await start();
    metrics.ticksReceived.inc(1523);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await response.text();
    expect(body).toContain('trading_ticks_received_total 1523\n');
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(body));
  });

  it('serves OpenMetrics when the scraper asks for it', async () => {
    const { server } = await start();
    const response = await fetch(`${server.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' },
    });
    expect(response.headers.get('content-type')).toBe(
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    );
    const body = await response.text();
    expect(body).toContain(
      '# TYPE trading_ticks_received counter\ntrading_ticks_received_total 0\n',
    );
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('answers /health with OK, and 503 naming the failing check', async () => {
    let databaseUp = true;
    const { server } = await start({
      health: { database: () => ({ ok: databaseUp, reason: 'connection refused' }) },
    });
    let response = await fetch(`${server.url}/health`);
    expect([response.status, await response.text()]).toEqual([200, 'OK\n']);
    databaseUp = false;
    response = await fetch(`${server.url}/health`);
    expect([response.status, await response.text()]).toEqual([
      503,
      'UNHEALTHY\ndatabase: connection refused\n',
    ]);
  });

  it('answers /ready from its own checks', async () => {
    let connected = false;
    const { server } = await start({ ready: { exchange: () => connected } });
    let response = await fetch(`${server.url}/ready`);
    expect([response.status, await response.text()]).toEqual([
      503,
      'NOT READY\nexchange: failing\n',
    ]);
    connected = true;
    response = await fetch(`${server.url}/ready`);
    expect([response.status, await response.text()]).toEqual([200, 'READY\n']);
  });

  it('supports HEAD, and answers 404 and 405 plainly', async () => {
    const { server } = await start();
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);
    expect(await head.text()).toBe('');

    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);

    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

    const query = await fetch(`${server.url}/health?verbose=1`);
    expect(query.status).toBe(200);
  });

  it('bounds concurrent scrapes and shares one rendering between them', async () => {
    const registry = new Registry();
    let collections = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    new Gauge({
      name: 'slow_gauge',
      help: 'collects slowly',
      registers: [registry],
      async collect() {
        collections += 1;
        await gate;
        this.set(1);
      },
    });
    const server = await startMetricsServer({
      registry,
      host: '127.0.0.1',
      port: 0,
      maxConcurrentScrapes: 2,
    });
    servers.push(server);

    const first = fetch(`${server.url}/metrics`);
    const second = fetch(`${server.url}/metrics`);
    await waitFor(() => collections === 1);
    // Give the second request time to join the first rendering before the third arrives.
    await new Promise((r) => setTimeout(r, 50));
    const third = await fetch(`${server.url}/metrics`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');

    release();
    const bodies = await Promise.all([first, second].map(async (r) => (await r).text()));
    expect(bodies[0]).toContain('slow_gauge 1');
    expect(bodies[1]).toBe(bodies[0]);
    expect(collections).toBe(1);
  });

  it('answers 500 and reports the error when collection fails', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken',
      help: 'throws',
      registers: [registry],
      collect() {
        throw new Error('sensor gone');
      },
    });
    const errors: unknown[] = [];
    const server = await startMetricsServer({
      registry,
      host: '127.0.0.1',
      port: 0,
      onError: (e) => errors.push(e),
    });
    servers.push(server);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('sensor gone');
    expect(errors).toHaveLength(1);
  });

  it('closes cleanly with a keep-alive connection open', async () => {
    const { server } = await start();
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${server.url}/metrics`,
        { agent: undefined, headers: { connection: 'keep-alive' } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
    await server.close();
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it('fails to start with a message naming the address when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(
        startMetricsServer({ registry: new Registry(), host: '127.0.0.1', port }),
      ).rejects.toThrow(
        `metrics server cannot listen on 127.0.0.1:${port}: the port is already in use`,
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses a bad port before listening', async () => {
    await expect(startMetricsServer({ registry: new Registry(), port: 70000 })).rejects.toThrow(
      'port: expected an integer from 0 to 65535, got 70000',
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}
