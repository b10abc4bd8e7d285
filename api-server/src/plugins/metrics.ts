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
  queueAdds: number;
  queueRetries: number;
  maxConcurrentReconciles: number;
  queueDepth: number;
  queueDelayed: number;
  activeWorkers: number;
  watchRestarts: number;
}

/** What the node agent's runs did since start, as RunTally.totals() reports it (structural copy). */
export interface RunTotalsView {
  transitions: ReadonlyArray<{ namespace: string; phase: string; reason: string; count: number }>;
  tokens: ReadonlyArray<{ namespace: string; model: string; kind: string; count: number }>;
  costUsd: ReadonlyArray<{ namespace: string; model: string; usd: number }>;
}

/** The loop's durations as they happen (the reconcile loop's LoopObserver, structurally). */
export interface LoopTimings {
  reconciled(outcome: string, seconds: number): void;
  waited(seconds: number): void;
}

/** What a node agent offers the metrics endpoint (cmd/serve.ts wires it). */
export interface AgentMetrics {
  loop: () => LoopMetrics;
  runs: () => RunTotalsView;
  /** From now on, sends the loop's durations to `timings`. */
  observeLoop(timings: LoopTimings): void;
}

export interface MetricsOptions {
  /** Read on every scrape. Default: no controller metrics. */
  loop?: () => LoopMetrics;
  /** Read on every scrape. Default: no run metrics. */
  runs?: () => RunTotalsView;
  /** Node process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

/** The controller and work queue names in the labels, as controller-runtime sets them. */
const CONTROLLER = 'agentrun';

/** controller-runtime's result label for each of our reconcile outcomes. */
function resultOf(outcome: string): string {
  switch (outcome) {
    case 'success':
      return 'success';
    case 'requeue':
      return 'requeue_after';
    default:
      return 'error';
  }
}

/** One registry per server, so two servers in one process (tests) never share counters. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #durations: Histogram<'method' | 'route'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #queueWait: Histogram<'name'>;
  /** Where the node agent sends its loop's durations (AgentMetrics.observeLoop). */
  readonly loopObserver: LoopTimings;

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'stromboli_' });
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
    this.#durations = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration by method and route pattern.', labelNames: ['method', 'route'], registers });
    // controller-runtime's and client-go's names, so the dashboards written for them work here.
    this.#reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#queueWait = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested.',
      labelNames: ['name'],
      buckets: [0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000],
      registers,
    });
    this.loopObserver = {
      reconciled: (_outcome, seconds) => this.#reconcileTime.observe({ controller: CONTROLLER }, seconds),
      waited: (seconds) => this.#queueWait.observe({ name: CONTROLLER }, seconds),
    };
    if (options.loop !== undefined) registerLoop(registers, options.loop);
    if (options.runs !== undefined) registerRuns(registers, options.runs);
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

/** Totals the loop keeps itself, exposed with controller-runtime's and client-go's names; each scrape sets them. */
function registerLoop(registers: Registry[], loop: () => LoopMetrics): void {
  new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller, by result.',
    labelNames: ['controller', 'result'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(loop().reconciles)) this.inc({ controller: CONTROLLER, result: resultOf(outcome) }, count);
    },
  });
  const counters: Array<[string, string, string, (m: LoopMetrics) => number]> = [
    ['controller_runtime_reconcile_errors_total', 'Total number of reconciliation errors per controller.', 'controller', (m) => Object.entries(m.reconciles).reduce((sum, [o, n]) => sum + (resultOf(o) === 'error' ? n : 0), 0)],
    ['workqueue_adds_total', 'Total number of adds handled by workqueue.', 'name', (m) => m.queueAdds],
    ['workqueue_retries_total', 'Total number of retries handled by workqueue.', 'name', (m) => m.queueRetries],
    ['stromboli_watch_restarts_total', 'Times the watch of AgentRuns was restarted since start.', 'controller', (m) => m.watchRestarts],
  ];
  for (const [name, help, label, read] of counters) {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        this.inc({ [label]: CONTROLLER }, read(loop()));
      },
    });
  }
  const gauges: Array<[string, string, string, (m: LoopMetrics) => number]> = [
    ['workqueue_depth', 'Current depth of workqueue: keys due now.', 'name', (m) => m.queueDepth],
    ['stromboli_workqueue_delayed', 'Keys waiting for a delayed requeue.', 'name', (m) => m.queueDelayed],
    ['controller_runtime_active_workers', 'Number of currently used workers per controller.', 'controller', (m) => m.activeWorkers],
    ['controller_runtime_max_concurrent_reconciles', 'Maximum number of concurrent reconciles per controller.', 'controller', (m) => m.maxConcurrentReconciles],
  ];
  for (const [name, help, label, read] of gauges) {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.set({ [label]: CONTROLLER }, read(loop()));
      },
    });
  }
}

/** What the runs did: transitions by phase and reason, tokens and cost by model and namespace. */
function registerRuns(registers: Registry[], runs: () => RunTotalsView): void {
  new Counter({
    name: 'stromboli_agentrun_transitions_total',
    help: 'Changes of an AgentRun phase or reason made by this node agent, by namespace, phase and reason.',
    labelNames: ['namespace', 'phase', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const t of runs().transitions) this.inc({ namespace: t.namespace, phase: t.phase, reason: t.reason }, t.count);
    },
  });
  new Counter({
    name: 'stromboli_tokens_total',
    help: 'Tokens of the AgentRuns this node agent finished, by namespace, model and kind (input, output, cache_creation, cache_read).',
    labelNames: ['namespace', 'model', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const t of runs().tokens) this.inc({ namespace: t.namespace, model: t.model, kind: t.kind }, t.count);
    },
  });
  new Counter({
    name: 'stromboli_cost_usd_total',
    help: 'Cost in USD (the Claude CLI\'s own figure) of the AgentRuns this node agent finished, by namespace and model.',
    labelNames: ['namespace', 'model'],
    registers,
    collect() {
      this.reset();
      for (const c of runs().costUsd) this.inc({ namespace: c.namespace, model: c.model }, c.usd);
    },
  });
}
