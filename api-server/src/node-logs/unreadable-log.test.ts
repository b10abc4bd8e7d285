// What a client sees when a run's log cannot be read (in Kubernetes mode: its node agent is
// gone): the native log route answers the error as JSON before any line, a failure after the
// first lines cuts the response, and a stream ends with event: error carrying the message.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError } from '../../../contract/errors.ts';
import type { LogReader } from '../../../contract/ports.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { buildApp } from '../app.ts';

const GONE = 'cannot read the log of default/job-0000000000000001: the node agent of n1 at http://10.0.0.9:8586 is unreachable (ECONNREFUSED)';
let failAfter = 0;
const reader: LogReader = {
  async *lines() {
    for (let i = 0; i < failAfter; i += 1) yield `{"line":${i}}`;
    throw new AppError('UNAVAILABLE', GONE);
  },
};
let store: MemoryStore<AgentRunStatus>;
let app: FastifyInstance;

beforeEach(async () => {
  store = new MemoryStore<AgentRunStatus>();
  app = await buildApp({ runs: store, logs: reader });
  const created = await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'job-0000000000000001', namespace: 'default', labels: { 'stromboli.dev/source': 'api' } }, spec: { prompt: 'p' } });
  await store.updateStatus({ namespace: 'default', name: created.metadata.name }, { phase: 'Succeeded', attempt: 1, result: 'done' } as AgentRunStatus, created.metadata.resourceVersion);
});
afterEach(() => app.close());

describe('a log that cannot be read', () => {
  it('answers 503 with the reason on the native log route', async () => {
    failAfter = 0;
    const res = await app.inject({ url: '/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/job-0000000000000001/log' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ code: 'UNAVAILABLE', message: GONE });
  });

  it('cuts the native log response when the failure comes after lines', async () => {
    failAfter = 2;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    // Cut at once or after the headers, depending on what was flushed: never a complete answer.
    const read = fetch(`http://127.0.0.1:${port}/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/job-0000000000000001/log`).then((res) => res.text());
    await expect(read).rejects.toThrow();
  });

  it('ends a stream with event: error and the reason', async () => {
    failAfter = 1;
    const res = await app.inject({ url: '/jobs/job-0000000000000001/stream' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('data: {"line":0}');
    expect(res.body).toMatch(new RegExp(`event: error\\ndata: ${GONE.replace(/[.()/]/g, '\\$&')}\\n\\n$`));
  });
});
