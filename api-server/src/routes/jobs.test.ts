// GET /jobs, GET /jobs/{id}, DELETE /jobs/{id} through app.inject, over a MemoryStore with the real controller.
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { ConflictError } from '../../../contract/errors.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { succeeded } from '../../test/helpers/agent-script.ts';
import { startTestBed } from '../../test/helpers/facade-test-bed.ts';
import type { TestBed, TestBedOptions } from '../../test/helpers/facade-test-bed.ts';
import { CANNOT_CANCEL } from '../run-facade/run-facade.ts';

const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let store: MemoryStore<AgentRunStatus>;
let bed: TestBed | undefined;

async function start(options: Omit<TestBedOptions, 'store'> = {}, given?: MemoryStore<AgentRunStatus>): Promise<TestBed> {
  store = given ?? new MemoryStore<AgentRunStatus>();
  bed = await startTestBed({ store, ...options });
  return bed;
}

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

async function submit(prompt: string): Promise<string> {
  const res = await bed?.app.inject({ method: 'POST', url: '/run/async', payload: { prompt } });
  expect(res?.statusCode).toBe(202);
  return res?.json().job_id as string;
}

async function job(id: string) {
  const res = await bed?.app.inject({ method: 'GET', url: `/jobs/${id}` });
  if (res === undefined) throw new Error('no test bed');
  return res;
}

async function phaseOf(id: string): Promise<string | undefined> {
  return (await store.get({ namespace: 'default', name: id })).status?.phase;
}

describe('GET /jobs', () => {
  it('answers an empty list as [] (never null)', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/jobs' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"jobs":[]}');
  });

  it('lists the runs created through the API, newest first, and nothing else', async () => {
    let clock = Date.parse('2026-01-01T10:00:00Z');
    const given = new MemoryStore<AgentRunStatus>({ now: () => new Date((clock += 1000)) });
    const { app } = await start({}, given);
    await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'from-a-manifest', namespace: 'default' }, spec: { prompt: 'x' } });
    // A run that looks like a job but was not made by the API is not a job.
    await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'job-0123456789abcdef', namespace: 'default' }, spec: { prompt: 'x' } });
    const first = await submit('one');
    const second = await submit('two');
    await expect.poll(async () => phaseOf(second)).toBe('Succeeded');
    const res = await app.inject({ method: 'GET', url: '/jobs' });
    const jobs = res.json().jobs as Array<{ id: string; status: string; output: string }>;
    expect(jobs.map((j) => j.id)).toEqual([second, first]);
    expect(jobs.map((j) => j.output)).toEqual(['echo: two', 'echo: one']);
  });
});

describe('GET /jobs/{id}', () => {
  it('shows a completed job with Stromboli\'s fields, RFC 3339 times in whole seconds, and usage', async () => {
    await start();
    const id = await submit('hi');
    await expect.poll(async () => phaseOf(id)).toBe('Succeeded');
    const res = await job(id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id,
      status: 'completed',
      output: 'echo: hi',
      session_id: expect.any(String),
      usage: expect.objectContaining({ input_tokens: 10, total_tokens: 20, estimated_cost_usd: 0.001235 }),
      created_at: expect.stringMatching(RFC3339_SECONDS),
      updated_at: expect.stringMatching(RFC3339_SECONDS),
    });
  });

  it('shows pending before the controller starts the run, running while it runs', async () => {
    await start({ controller: false });
    const id = await submit('waiting');
    expect((await job(id)).json()).toMatchObject({ id, status: 'pending', session_id: expect.any(String) });
    await bed?.close();
    await start();
    const running = await submit('go [hold]');
    await expect.poll(async () => (await job(running)).json().status).toBe('running');
    expect((await job(running)).json()).not.toHaveProperty('output');
  });

  it.each([
    ['crashed', 'x [crash]', { status: 'crashed', output: 'partial answer', crash_info: { exit_code: 139, signal: 'SIGSEGV', reason: 'Process killed by SIGSEGV', partial_output: 'partial answer' } }],
    ['failed', 'x [fail]', { status: 'failed', error: 'execution failed: MaxTurns: Reached maximum number of turns (1)' }],
    ['failed by the request', 'x [volume]', { status: 'failed', error: 'volume validation failed: volume host path /etc is not allowed' }],
  ])('shows a %s job', async (_case, prompt, expected) => {
    await start();
    const id = await submit(prompt);
    await expect.poll(async () => phaseOf(id)).toBe('Failed');
    expect((await job(id)).json()).toMatchObject({ id, ...expected });
  });

  it.each([
    ['an unknown id', 'job-0000000000000000'],
    ['a malformed id', 'not-a-job'],
    ['a traversal attempt', '..%2F..%2Fetc%2Fpasswd'],
  ])('answers 404 with Stromboli\'s envelope for %s', async (_case, id) => {
    await start();
    const res = await job(id);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'job not found' });
  });

  it('answers 404 for a run that was not created through the API', async () => {
    await start();
    await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'job-0123456789abcdef', namespace: 'default' }, spec: { prompt: 'x' } });
    expect((await job('job-0123456789abcdef')).statusCode).toBe(404);
  });
});

describe('DELETE /jobs/{id}', () => {
  it('cancels a running job: 200 {cancelled, job_id}, spec.cancel set, status cancelled, for good', async () => {
    const { app } = await start();
    const id = await submit('long [hold]');
    await expect.poll(async () => phaseOf(id)).toBe('Running');
    const res = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ cancelled: true, job_id: id });
    expect((await store.get({ namespace: 'default', name: id })).spec).toMatchObject({ cancel: true });
    // Cancelled at once in the job view (the controller makes it final), then in the status too.
    expect((await job(id)).json().status).toBe('cancelled');
    await expect.poll(async () => phaseOf(id)).toBe('Cancelled');
    const again = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ id: '', status: 'error', error: CANNOT_CANCEL });
  });

  it('cancels a job that has not started', async () => {
    const { app } = await start({ controller: false });
    const id = await submit('queued');
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(200);
    expect((await job(id)).json().status).toBe('cancelled');
  });

  it('answers 409 for a finished job and leaves it as it was', async () => {
    const { app } = await start();
    const id = await submit('quick');
    await expect.poll(async () => phaseOf(id)).toBe('Succeeded');
    const res = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'cannot cancel job (already completed, failed, or cancelled)' });
    expect((await job(id)).json().status).toBe('completed');
  });

  it('answers 404 for an unknown job', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'DELETE', url: '/jobs/job-0000000000000000' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'job not found' });
  });

  it('re-reads and retries when the run changes between the read and the cancel write', async () => {
    const given = new MemoryStore<AgentRunStatus>();
    let conflicts = 1;
    const patchSpec = given.patchSpec.bind(given);
    given.patchSpec = async (ref, patch, resourceVersion) => {
      if (conflicts-- > 0) throw new ConflictError('stale');
      return patchSpec(ref, patch, resourceVersion);
    };
    const { app } = await start({ controller: false }, given);
    const id = await submit('x');
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(200);
    expect((await store.get({ namespace: 'default', name: id })).spec).toMatchObject({ cancel: true });
  });

  it('answers 503 with the envelope when the run keeps changing under the cancel', async () => {
    const given = new MemoryStore<AgentRunStatus>();
    given.patchSpec = async () => {
      throw new ConflictError('stale');
    };
    const { app } = await start({ controller: false }, given);
    const id = await submit('x');
    const res = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'the job kept changing while being cancelled; try again' });
  });

  it('answers a store failure with a generic 500 in the envelope, never the error text', async () => {
    const given = new MemoryStore<AgentRunStatus>();
    given.list = async () => {
      throw new Error('disk on fire at /var/secret/path');
    };
    const { app } = await start({}, given);
    const res = await app.inject({ method: 'GET', url: '/jobs' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'internal server error' });
  });

  it('answers 409, not a late cancel, when the run finished between the read and the write', async () => {
    const given = new MemoryStore<AgentRunStatus>();
    const patchSpec = given.patchSpec.bind(given);
    let finishFirst: (() => Promise<unknown>) | undefined;
    given.patchSpec = async (ref, patch, resourceVersion) => {
      // The controller's status write lands first: the cancel carries a stale resourceVersion.
      if (finishFirst !== undefined) {
        const finish = finishFirst;
        finishFirst = undefined;
        await finish();
      }
      return patchSpec(ref, patch, resourceVersion);
    };
    const { app, finish } = await start({}, given);
    const id = await submit('x [hold]');
    await expect.poll(async () => phaseOf(id)).toBe('Running');
    finishFirst = () => finish(id, succeeded('won the race'));
    const res = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    expect(res.statusCode).toBe(409);
    expect((await job(id)).json()).toMatchObject({ status: 'completed', output: 'won the race' });
  });
});
