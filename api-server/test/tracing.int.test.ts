// Tracing end to end: a real `stromboli serve` with --tracing-endpoint pointed at an OTLP/HTTP
// receiver in this test, a synchronous POST /run of the fake Claude image over real podman, and
// the spans it exports: the request's span (a child of the client's traceparent), the node
// agent's reconciles (children of the request's span, through the AgentRun's annotation), the
// podman calls (children of a reconcile), and TRACEPARENT in the container's environment.
// Run: npx vitest run --project podman api-server/test/tracing.int.test.ts
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../../controller/test/helpers/cleanup.ts';
import { startTestServer } from '../../controller/test/helpers/embedded-server.ts';
import { ensureFakeImage } from '../../controller/test/helpers/podman.ts';
import { createTempDirs } from '../../controller/test/helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP receiver (JSON): keeps every span it is sent. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const parsed = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }> };
      for (const resource of parsed.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            const attributes: Record<string, unknown> = {};
            for (const a of (span['attributes'] as Array<{ key: string; value: Record<string, unknown> }> | undefined) ?? []) attributes[a.key] = Object.values(a.value)[0];
            spans.push({
              traceId: String(span['traceId']),
              spanId: String(span['spanId']),
              ...(typeof span['parentSpanId'] === 'string' && span['parentSpanId'] !== '' ? { parentSpanId: span['parentSpanId'] } : {}),
              name: String(span['name']),
              attributes,
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('tracing', () => {
  it('exports one trace from the client through the facade and the node agent into the container', async () => {
    const receiver = await startReceiver();
    cleanup.add('close the OTLP receiver', () => receiver.close());
    const dirs = await createTempDirs(cleanup, 'tracing');
    const ts = await startTestServer(cleanup, dirs, {
      tracingEndpoint: receiver.url,
      anthropicBaseUrl: 'http://127.0.0.1:9', // "configured" without credentials; the fake never calls it
    });
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const res = await fetch(`${ts.url}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpan}-01` },
      // A hook writes what the container was given (the fake CLI's own log records no TRACEPARENT).
      body: JSON.stringify({ prompt: 'trace me', podman: { lifecycle: { post_start: ['printf %s "$TRACEPARENT" > "$HOME/traceparent.txt"'] } } }),
    });
    const body = (await res.json()) as { status: string; session_id: string };
    expect(body.status).toBe('completed');
    await ts.close(); // flushes the spans still buffered

    const ours = receiver.spans.filter((s) => s.traceId === traceId);
    const request = ours.find((s) => s.name === 'POST /run');
    expect(request).toMatchObject({ parentSpanId: clientSpan, attributes: { 'http.request.method': 'POST', 'http.route': '/run', 'http.response.status_code': 200 } });
    const reconciles = ours.filter((s) => s.name === 'AgentRun reconcile');
    expect(reconciles.length).toBeGreaterThanOrEqual(2); // start, then the exit at least
    for (const reconcile of reconciles) expect(reconcile.parentSpanId).toBe(request?.spanId);
    expect(reconciles[0]?.attributes).toMatchObject({ 'agentrun.namespace': 'default', 'agentrun.name': expect.stringMatching(/^run-/) });
    const podmanCalls = ours.filter((s) => s.name.startsWith('podman '));
    expect(podmanCalls.length).toBeGreaterThan(0);
    const reconcileIds = new Set(reconciles.map((r) => r.spanId));
    for (const call of podmanCalls) expect(reconcileIds.has(call.parentSpanId ?? '')).toBe(true);
    expect(podmanCalls.map((c) => c.name)).toContain('podman API POST /containers/create');

    // The container was given the trace context of the reconcile that started it.
    const given = await readFile(join(dirs.stateDir, 'sessions', body.session_id, 'traceparent.txt'), 'utf8');
    expect(given).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(reconcileIds.has(given.split('-')[2] ?? '')).toBe(true);
  });

  it('sends nothing without --tracing-endpoint, and the run carries no trace annotation', async () => {
    const receiver = await startReceiver();
    cleanup.add('close the OTLP receiver', () => receiver.close());
    const dirs = await createTempDirs(cleanup, 'no-tracing');
    const ts = await startTestServer(cleanup, dirs, { anthropicBaseUrl: 'http://127.0.0.1:9' });
    const res = await fetch(`${ts.url}/run`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` }, body: JSON.stringify({ prompt: 'untraced' }) });
    const body = (await res.json()) as { id: string; status: string };
    expect(body.status).toBe('completed');
    expect((await ts.get(body.id)).metadata.annotations ?? {}).not.toHaveProperty('stromboli.dev/traceparent');
    await ts.close();
    expect(receiver.spans).toEqual([]);
  });
});
