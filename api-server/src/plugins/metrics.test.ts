import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { Metrics, listenMetrics } from './metrics.ts';
import type { MetricsListener } from './metrics.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';

const loop = () => ({ reconciles: { success: 3, error: 1 }, queueDepth: 2, queueDelayed: 5, activeWorkers: 1, watchRestarts: 0 });

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

  it("reads the controller loop's counters on each scrape", async () => {
    const text = await new Metrics({ loop, processMetrics: false }).registry.metrics();
    expect(text).toContain('stromboli_reconciles_total{outcome="success"} 3');
    expect(text).toContain('stromboli_workqueue_depth 2');
    expect(text).toContain('stromboli_workqueue_delayed 5');
    expect(text).toContain('stromboli_active_workers 1');
  });

  it('exposes totals as counters, gauges as gauges', async () => {
    const text = await new Metrics({ loop, processMetrics: false }).registry.metrics();
    expect(text).toContain('# TYPE stromboli_reconciles_total counter');
    expect(text).toContain('# TYPE stromboli_watch_restarts_total counter');
    expect(text).toContain('# TYPE stromboli_workqueue_depth gauge');
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
    expect(body).toContain('stromboli_workqueue_depth 2');
    expect(body).toContain('stromboli_process_cpu_seconds_total');
    expect((await fetch(new URL('/other', listener.url))).status).toBe(404);
  });
});
