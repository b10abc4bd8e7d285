import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { Metrics, listenMetrics } from './metrics.ts';
import type { MetricsListener } from './metrics.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';

const loop = () => ({
  reconciles: { success: 3, requeue: 4, transient: 1, error: 1 },
  queueAdds: 12,
  queueRetries: 2,
  maxConcurrentReconciles: 8,
  queueDepth: 2,
  queueDelayed: 5,
  activeWorkers: 1,
  watchRestarts: 0,
});
const runs = () => ({
  transitions: [
    { namespace: 'team-a', phase: 'Running', reason: 'Running', count: 2 },
    { namespace: 'team-a', phase: 'Failed', reason: 'HookFailed', count: 1 },
  ],
  tokens: [
    { namespace: 'team-a', model: 'claude-sonnet-4-5', kind: 'input', count: 1200 },
    { namespace: 'team-a', model: 'claude-sonnet-4-5', kind: 'output', count: 340 },
  ],
  costUsd: [{ namespace: 'team-a', model: 'claude-sonnet-4-5', usd: 0.0123 }],
});

let listener: MetricsListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

describe('Metrics', () => {
  it('counts requests by route pattern, never by raw path', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader() }, { metrics });
    await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/namespaces/a/agentruns/x1' });
    await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/namespaces/b/agentruns/x2' });
    await app.inject({ method: 'GET', url: '/no/such/path/123' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/apis/stromboli.dev/v1alpha1/namespaces/:namespace/agentruns/:name",status="404"} 2');
    expect(text).toContain('route="unmatched",status="404"} 1');
    expect(text).not.toContain('x1');
  });

  it("reads the controller loop's counters on each scrape, under controller-runtime's and client-go's names", async () => {
    const text = await new Metrics({ loop, processMetrics: false }).registry.metrics();
    expect(text).toContain('controller_runtime_reconcile_total{controller="agentrun",result="success"} 3');
    expect(text).toContain('controller_runtime_reconcile_total{controller="agentrun",result="requeue_after"} 4');
    expect(text).toContain('controller_runtime_reconcile_total{controller="agentrun",result="error"} 2');
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="agentrun"} 2');
    expect(text).toContain('controller_runtime_active_workers{controller="agentrun"} 1');
    expect(text).toContain('controller_runtime_max_concurrent_reconciles{controller="agentrun"} 8');
    expect(text).toContain('workqueue_depth{name="agentrun"} 2');
    expect(text).toContain('workqueue_adds_total{name="agentrun"} 12');
    expect(text).toContain('workqueue_retries_total{name="agentrun"} 2');
    expect(text).toContain('stromboli_workqueue_delayed{name="agentrun"} 5');
  });

  it('turns the loop durations it is told of into histograms', async () => {
    const metrics = new Metrics({ loop, processMetrics: false });
    metrics.loopObserver.reconciled('success', 0.02);
    metrics.loopObserver.reconciled('error', 3);
    metrics.loopObserver.waited(0.5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('controller_runtime_reconcile_time_seconds_count{controller="agentrun"} 2');
    expect(text).toContain('controller_runtime_reconcile_time_seconds_bucket{le="0.025",controller="agentrun"} 1');
    expect(text).toContain('controller_runtime_reconcile_time_seconds_sum{controller="agentrun"} 3.02');
    expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="1",name="agentrun"} 1');
    expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="0.1",name="agentrun"} 0');
  });

  it('counts transitions by phase and reason, tokens by model and kind, and cost, per namespace', async () => {
    const text = await new Metrics({ runs, processMetrics: false }).registry.metrics();
    expect(text).toContain('stromboli_agentrun_transitions_total{namespace="team-a",phase="Failed",reason="HookFailed"} 1');
    expect(text).toContain('stromboli_tokens_total{namespace="team-a",model="claude-sonnet-4-5",kind="input"} 1200');
    expect(text).toContain('stromboli_cost_usd_total{namespace="team-a",model="claude-sonnet-4-5"} 0.0123');
  });

  it('exposes totals as counters, gauges as gauges', async () => {
    const text = await new Metrics({ loop, runs, processMetrics: false }).registry.metrics();
    for (const counter of ['controller_runtime_reconcile_total', 'workqueue_adds_total', 'stromboli_watch_restarts_total', 'stromboli_tokens_total', 'stromboli_cost_usd_total']) {
      expect(text).toContain(`# TYPE ${counter} counter`);
    }
    expect(text).toContain('# TYPE workqueue_depth gauge');
    expect(text).toContain('# TYPE controller_runtime_reconcile_time_seconds histogram');
  });

  it('is served by its own listener, at /metrics only, and never by the API', async () => {
    const metrics = new Metrics({ loop });
    const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader() }, { metrics });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    listener = await listenMetrics(metrics, { host: '127.0.0.1', port: 0 });
    const scrape = await fetch(listener.url);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await scrape.text();
    expect(body).toContain('workqueue_depth{name="agentrun"} 2');
    expect(body).toContain('stromboli_process_cpu_seconds_total');
    expect((await fetch(new URL('/other', listener.url))).status).toBe(404);
  });
});
