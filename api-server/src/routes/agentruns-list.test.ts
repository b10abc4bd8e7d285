// The native list: byte-for-byte the schema's serialization (the per-run JSON cache must not show),
// and Kubernetes-style paging with limit and continue.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError } from '../../../contract/errors.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { buildApp } from '../app.ts';
import { RunListSchema } from './agentruns.ts';

const BASE = '/apis/stromboli.dev/v1alpha1';
const PROBLEMS = [{ path: 'runs/broken.yaml', error: 'bad indentation' }];
let store: MemoryStore<AgentRunStatus>;
let app: FastifyInstance;

beforeEach(async () => {
  store = new MemoryStore<AgentRunStatus>();
  app = await buildApp({ runs: store, logs: { async *lines() {} }, problems: () => PROBLEMS });
});
afterEach(async () => {
  await app.close();
});

async function create(name: string, namespace = 'default'): Promise<void> {
  const run = await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name, namespace, labels: { team: 'x' } }, spec: { prompt: `say ${name}`, extra: undefined } });
  await store.updateStatus(
    { namespace, name },
    { phase: 'Pending', observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'Suspended', lastTransitionTime: '2026-12-08T00:00:00Z' }] },
    run.metadata.resourceVersion,
  );
}

/** What the route's zod serializer answered before the cache: the reference bytes. */
async function schemaBytes(namespace?: string): Promise<string> {
  const items = await store.list(namespace === undefined ? {} : { namespace });
  return JSON.stringify(z.encode(RunListSchema, { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRunList', items, problems: PROBLEMS }));
}

describe('GET …/agentruns', () => {
  it('answers the same bytes as the schema serializer, before and after a run changes (the cache follows resourceVersion)', async () => {
    for (const name of ['b', 'a', 'c']) await create(name);
    await create('d', 'other');
    for (let round = 0; round < 2; round++) {
      const all = await app.inject({ method: 'GET', url: `${BASE}/agentruns` });
      expect(all.statusCode).toBe(200);
      expect(all.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(all.body).toBe(await schemaBytes());
      const one = await app.inject({ method: 'GET', url: `${BASE}/namespaces/default/agentruns` });
      expect(one.body).toBe(await schemaBytes('default'));
      const current = await store.get({ namespace: 'default', name: 'a' });
      await store.updateStatus({ namespace: 'default', name: 'a' }, { phase: 'Running' }, current.metadata.resourceVersion);
    }
    expect((await app.inject({ method: 'GET', url: `${BASE}/agentruns` })).json().items[0].status).toEqual({ phase: 'Running' });
    await store.delete({ namespace: 'default', name: 'b' });
    expect((await app.inject({ method: 'GET', url: `${BASE}/agentruns` })).body).toBe(await schemaBytes());
  });

  it('pages with limit and continue, kube-apiserver style, and limit=0 is the whole list', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await create(name);
    const names: string[] = [];
    const counts: unknown[] = [];
    let token: string | undefined;
    do {
      const url = `${BASE}/namespaces/default/agentruns?limit=2${token === undefined ? '' : `&continue=${encodeURIComponent(token)}`}`;
      const page = await app.inject({ method: 'GET', url });
      expect(page.statusCode).toBe(200);
      const body = page.json();
      expect(body).toMatchObject({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRunList', problems: PROBLEMS });
      names.push(...body.items.map((r: { metadata: { name: string } }) => r.metadata.name));
      counts.push(body.metadata.remainingItemCount);
      token = body.metadata.continue;
    } while (token !== undefined);
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(counts).toEqual([3, 1, undefined]);
    const whole = await app.inject({ method: 'GET', url: `${BASE}/agentruns?limit=0` });
    expect(whole.body).toBe(await schemaBytes());
  });

  it('answers a continue token it did not issue and a bad limit with 400, an expired token with 410, as { code, message }', async () => {
    await create('a');
    const bad = await app.inject({ method: 'GET', url: `${BASE}/agentruns?limit=1&continue=bogus` });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'VALIDATION', message: expect.stringContaining('continue token is not valid') });
    for (const limit of ['-1', 'x', '1.5']) expect((await app.inject({ method: 'GET', url: `${BASE}/agentruns?limit=${limit}` })).statusCode).toBe(400);
    const expired = await buildApp({
      runs: Object.assign(Object.create(store) as MemoryStore<AgentRunStatus>, {
        listPage: async () => {
          throw new AppError('EXPIRED', 'list agentruns: the continue token has expired; start the list again without it');
        },
      }),
      logs: { async *lines() {} },
    });
    try {
      const gone = await expired.inject({ method: 'GET', url: `${BASE}/agentruns?limit=1&continue=old` });
      expect(gone.statusCode).toBe(410);
      expect(gone.json()).toEqual({ code: 'EXPIRED', message: 'list agentruns: the continue token has expired; start the list again without it' });
    } finally {
      await expired.close();
    }
  });
});
