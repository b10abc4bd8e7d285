import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { buildApp } from '../app.ts';
import type { LogReader } from '../../../contract/ports.ts';
import { replacementPatch } from './agentruns.ts';

const BASE = '/apis/stromboli.dev/v1alpha1';
let store: MemoryStore<AgentRunStatus>;
let app: FastifyInstance;
const lines: LogReader = {
  async *lines(run) {
    yield `{"type":"system","subtype":"init","run":"${run.metadata.name}"}`;
    yield '{"type":"result","subtype":"success"}';
  },
};

const manifest = (name: string, spec: Record<string, unknown> = { prompt: 'hello' }) => ({
  apiVersion: 'stromboli.dev/v1alpha1',
  kind: 'AgentRun',
  metadata: { name },
  spec,
});

beforeEach(async () => {
  store = new MemoryStore<AgentRunStatus>();
  app = await buildApp({ runs: store, logs: lines, problems: () => [{ path: 'runs/broken.yaml', error: 'bad indentation' }] });
});
afterEach(async () => {
  await app.close();
});

describe('native AgentRun routes', () => {
  it('creates a run (201) and refuses a second one of that name (409) and an invalid spec (400, naming the field)', async () => {
    const created = await app.inject({ method: 'POST', url: `${BASE}/namespaces/default/agentruns`, payload: manifest('a') });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ metadata: { name: 'a', namespace: 'default', generation: 1 }, spec: { prompt: 'hello' } });
    const again = await app.inject({ method: 'POST', url: `${BASE}/namespaces/default/agentruns`, payload: manifest('a') });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ALREADY_EXISTS' });
    const bad = await app.inject({ method: 'POST', url: `${BASE}/namespaces/default/agentruns`, payload: manifest('b', { prompt: 'x', claude: { maxTurns: 'many' } }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('spec.claude.maxTurns');
    expect(await store.list()).toHaveLength(1);
  });

  it('applies: creates (201), then replaces the spec (200) removing nested keys the new manifest dropped', async () => {
    const url = `${BASE}/namespaces/default/agentruns/r`;
    expect((await app.inject({ method: 'PUT', url, payload: manifest('r', { prompt: 'one', claude: { model: 'sonnet', maxTurns: 3 } }) })).statusCode).toBe(201);
    const updated = await app.inject({ method: 'PUT', url, payload: manifest('r', { prompt: 'two', claude: { model: 'sonnet' } }) });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ metadata: { generation: 2 }, spec: { prompt: 'two', claude: { model: 'sonnet' } } });
    expect(updated.json().spec.claude).not.toHaveProperty('maxTurns');
    const same = await app.inject({ method: 'PUT', url, payload: manifest('r', { prompt: 'two', claude: { model: 'sonnet' } }) });
    expect(same.json().metadata.generation).toBe(2);
    const mismatch = await app.inject({ method: 'PUT', url, payload: manifest('other') });
    expect(mismatch.statusCode).toBe(400);
  });

  it('lists runs with the manifest problems, reads one, 404s an unknown one', async () => {
    await store.create({ ...manifest('x'), metadata: { name: 'x', namespace: 'team' } });
    const list = await app.inject({ method: 'GET', url: `${BASE}/agentruns` });
    expect(list.json()).toMatchObject({ kind: 'AgentRunList', items: [{ metadata: { name: 'x', namespace: 'team' } }], problems: [{ path: 'runs/broken.yaml', error: 'bad indentation' }] });
    expect((await app.inject({ method: 'GET', url: `${BASE}/namespaces/default/agentruns` })).json().items).toEqual([]);
    expect((await app.inject({ method: 'GET', url: `${BASE}/namespaces/team/agentruns/x` })).statusCode).toBe(200);
    const missing = await app.inject({ method: 'GET', url: `${BASE}/namespaces/team/agentruns/nope` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await app.inject({ method: 'GET', url: `${BASE}/namespaces/Bad_NS/agentruns` })).statusCode).toBe(400);
  });

  it('cancels (spec.cancel = true) and deletes', async () => {
    await store.create(manifest('c'));
    const cancelled = await app.inject({ method: 'POST', url: `${BASE}/namespaces/default/agentruns/c/cancel` });
    expect(cancelled.json()).toMatchObject({ spec: { cancel: true } });
    expect((await app.inject({ method: 'DELETE', url: `${BASE}/namespaces/default/agentruns/c` })).json()).toEqual({ deleted: true });
    expect((await app.inject({ method: 'DELETE', url: `${BASE}/namespaces/default/agentruns/c` })).statusCode).toBe(404);
  });

  it('serves the transcript as NDJSON', async () => {
    await store.create(manifest('l'));
    const log = await app.inject({ method: 'GET', url: `${BASE}/namespaces/default/agentruns/l/log` });
    expect(log.statusCode).toBe(200);
    expect(log.headers['content-type']).toContain('application/x-ndjson');
    expect(log.body.trim().split('\n')).toEqual(['{"type":"system","subtype":"init","run":"l"}', '{"type":"result","subtype":"success"}']);
  });
});

describe('replacementPatch', () => {
  it('is a merge patch from the current spec to the new one, at every depth', () => {
    expect(replacementPatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: 1, b: { c: 2 }, e: [2], f: true })).toEqual({ b: { d: null }, e: [2], f: true });
    expect(replacementPatch({ a: { b: 1 } }, {})).toEqual({ a: null });
    expect(replacementPatch({ a: 1 }, { a: 1 })).toEqual({});
  });
});
