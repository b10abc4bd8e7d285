// Prometheus metrics (prom-client lives only here), served by their own small listener and never
// on the API port (checklist item 2; Stromboli moved them off in 0.5.0). Request metrics are
// labelled by route pattern, not raw path, so ids cannot blow up label cardinality (Stromboli
// labels raw paths). The controller's counters are read on each scrape.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The controller loop's counters as ControllerHandle.metrics() reports them (structural copy). */
export interface LoopMetrics {
  reconciles: Record<string, number>;
  queueDepth: number;
  queueDelayed: number;
  activeWorkers: number;
  watchRestarts: number;
}

export interface MetricsOptions {
  /** Read on every scrape. Default: no controller metrics. */
  loop?: () => LoopMetrics;
  /** Node process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

/** One registry per server, so two servers in one process (tests) never share counters. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #durations: Histogram<'method' | 'route'>;

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'stromboli_' });
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
    this.#durations = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration by method and route pattern.', labelNames: ['method', 'route'], registers });
    const loop = options.loop;
    if (loop === undefined) return;
    // Counts the loop keeps itself, exposed as Prometheus counters (type counter): each scrape
    // sets the counter to the loop's total since start.
    new Counter({
      name: 'stromboli_reconciles_total',
      help: 'Finished reconciles by outcome since start.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, count] of Object.entries(loop().reconciles)) this.inc({ outcome }, count);
      },
    });
    new Counter({
      name: 'stromboli_watch_restarts_total',
      help: 'Times the watch was restarted since start.',
      registers,
      collect() {
        this.reset();
        this.inc(loop().watchRestarts);
      },
    });
    const gauges: Array<[string, string, (m: LoopMetrics) => number]> = [
      ['stromboli_workqueue_depth', 'Keys due now.', (m) => m.queueDepth],
      ['stromboli_workqueue_delayed', 'Keys waiting for a delayed requeue.', (m) => m.queueDelayed],
      ['stromboli_active_workers', 'Reconciles running now.', (m) => m.activeWorkers],
    ];
    for (const [name, help, read] of gauges) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(loop()));
        },
      });
    }
  }

  /** Counts every answered request of `app` by route pattern (unmatched requests as "unmatched"). */
  observe(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = { method: request.method, route };
      this.#requests.inc({ ...labels, status: String(reply.statusCode) });
      this.#durations.observe(labels, reply.elapsedTime / 1000);
    });
  }
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics on its own address (default in the CLI: off; Stromboli's is 127.0.0.1:9090). */
export async function listenMetrics(metrics: Metrics, address: { host: string; port: number }): Promise<MetricsListener> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  // A TCP listener's address() is always an AddressInfo (a string only for pipes and sockets).
  const { port } = server.address() as AddressInfo;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err === undefined ? resolve() : reject(err)))),
  };
}
