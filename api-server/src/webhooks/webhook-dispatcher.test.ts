// Webhooks of async jobs, end to end inside the run family: submit → the controller ends the run
// (the fake agent's script decides how) → the dispatcher (watching the store) sends one signed payload.
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { conditionsFor } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { containerName } from '../../../controller/src/runner/names.ts';
import type { FakeAgentRunner } from '../../../controller/src/runner/fake-runner.ts';
import { succeeded } from '../../test/helpers/agent-script.ts';
import { startTestBed } from '../../test/helpers/facade-test-bed.ts';
import type { TestBed } from '../../test/helpers/facade-test-bed.ts';
import { SOURCE_API, SOURCE_LABEL, WEBHOOK_ANNOTATION } from '../run-facade/names.ts';
import { signWebhook } from './webhook-sender.ts';
import type { WebhookRequest, WebhookTransport } from './webhook-sender.ts';
import { compact } from '../../../contract/compact.ts';

const HOOK = 'https://hooks.example.com/done?token=t0k3n';
const SESSION = '0b0f6c1e-8a55-4c1b-9d7e-2f3a4b5c6d7e';

let store: MemoryStore<AgentRunStatus>;
let bed: TestBed | undefined;
let sent: WebhookRequest[];

function recording(...answers: number[]): WebhookTransport {
  return async (request) => {
    sent.push(request);
    return answers.shift() ?? 200;
  };
}

async function start(options: { secret?: string; answers?: number[]; given?: MemoryStore<AgentRunStatus>; beforeStart?: (runner: FakeAgentRunner) => Promise<void> } = {}): Promise<TestBed> {
  store = options.given ?? new MemoryStore<AgentRunStatus>();
  sent = [];
  bed = await startTestBed({
    store,
    ...compact({ beforeStart: options.beforeStart }),
    family: {
      resolveHost: async () => ['93.184.216.34'],
      webhookTransport: recording(...(options.answers ?? [])),
      webhookBaseDelayMs: 1,
      ...(options.secret === undefined ? {} : { webhooks: { signingSecret: options.secret } }),
    },
  });
  return bed;
}

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await bed?.app.inject({ method: 'POST', url: '/run/async', payload: body });
  expect(res?.statusCode).toBe(202);
  return res?.json().job_id as string;
}

/** Waits until `count` webhooks were sent and no delivery is in flight. */
async function deliveries(count: number): Promise<void> {
  await expect.poll(() => sent.length).toBeGreaterThanOrEqual(count);
  await bed?.dispatcher?.idle();
}

/**
 * Events reach the dispatcher in store order through one watch: once a later job's webhook has
 * gone out, every earlier event has been handled. Returns the count without the barrier's own.
 */
async function barrier(): Promise<number> {
  await submit({ prompt: 'barrier', webhook_url: 'https://hooks.example.com/barrier' });
  await expect.poll(() => sent.some((r) => r.url.pathname === '/barrier')).toBe(true);
  await bed?.dispatcher?.idle();
  return sent.filter((r) => r.url.pathname !== '/barrier').length;
}

function payloads(): unknown[] {
  return sent.map((r) => JSON.parse(r.body) as unknown);
}

describe('webhooks of async jobs', () => {
  it('sends one signed payload with Stromboli\'s fields when the job completes', async () => {
    await start({ secret: 'whsec-123' });
    const id = await submit({ prompt: 'hi', webhook_url: HOOK });
    await deliveries(1);
    expect(sent).toHaveLength(1);
    const request = sent[0];
    expect(request?.url.href).toBe(HOOK);
    expect(JSON.parse(request?.body ?? '')).toEqual({
      job_id: id,
      status: 'completed',
      output: 'echo: hi',
      session_id: expect.any(String),
      usage: expect.objectContaining({ total_tokens: 20 }),
    });
    const timestamp = request?.headers['x-stromboli-timestamp'] ?? '';
    expect(timestamp).toMatch(/^\d{10}$/);
    expect(request?.headers['x-stromboli-signature']).toBe(signWebhook('whsec-123', timestamp, request?.body ?? ''));
  });

  it('reports failed, crashed and cancelled jobs with their status', async () => {
    const { app } = await start();
    const failed = await submit({ prompt: 'x [fail]', webhook_url: HOOK });
    const crashed = await submit({ prompt: 'x [crash]', webhook_url: HOOK });
    const cancelled = await submit({ prompt: 'x [hold]', webhook_url: HOOK });
    await expect.poll(async () => (await store.get({ namespace: 'default', name: cancelled })).status?.phase).toBe('Running');
    await app.inject({ method: 'DELETE', url: `/jobs/${cancelled}` });
    await deliveries(3);
    const byId = new Map(payloads().map((p) => [(p as { job_id: string }).job_id, p]));
    expect(byId.get(failed)).toMatchObject({ status: 'failed', error: 'execution failed: MaxTurns: Reached maximum number of turns (1)' });
    expect(byId.get(crashed)).toMatchObject({ status: 'crashed', crash_info: { exit_code: 139, signal: 'SIGSEGV' } });
    expect(byId.get(cancelled)).toMatchObject({ status: 'cancelled' });
    expect(sent).toHaveLength(3);
  });

  it('retries a failing receiver within the bound', async () => {
    await start({ answers: [503, 500, 204] });
    await submit({ prompt: 'hi', webhook_url: HOOK });
    await deliveries(3);
    expect(sent).toHaveLength(3);
  });

  it('sends nothing for jobs without webhook_url and for /run (which ignores it)', async () => {
    const { app } = await start();
    await submit({ prompt: 'quiet' });
    await app.inject({ method: 'POST', url: '/run', payload: { prompt: 'sync', webhook_url: HOOK } });
    expect(await barrier()).toBe(0);
  });

  it('never sends twice for one run, whatever later events it sees', async () => {
    await start();
    const id = await submit({ prompt: 'hi', webhook_url: HOOK });
    await deliveries(1);
    // A later spec change (a no-op for a finished run) is another MODIFIED event of a finished run.
    await store.patchSpec({ namespace: 'default', name: id }, { suspend: true });
    await store.patchSpec({ namespace: 'default', name: id }, { priority: 3 });
    expect(await barrier()).toBe(1);
  });

  it('announces runs that were running when it started, not those that had finished before', async () => {
    const given = new MemoryStore<AgentRunStatus>();
    const make = async (name: string, phase: 'Running' | 'Succeeded', completionTime?: string) => {
      const run = await given.create({
        apiVersion: 'stromboli.dev/v1alpha1',
        kind: 'AgentRun',
        metadata: { name, namespace: 'default', labels: { [SOURCE_LABEL]: SOURCE_API }, annotations: { [WEBHOOK_ANNOTATION]: HOOK } },
        spec: { prompt: 'earlier [hold]', session: { id: SESSION } },
      });
      const reason = phase;
      await given.updateStatus(
        run.metadata,
        { phase, attempt: 1, ...(completionTime === undefined ? {} : { completionTime, result: 'old' }), conditions: conditionsFor(undefined, phase, reason, undefined, 1, '2026-01-01T00:00:00Z') },
        run.metadata.resourceVersion,
      );
    };
    await make('job-00000000000000aa', 'Succeeded', '2020-01-01T00:00:00Z');
    await make('job-00000000000000bb', 'Running');
    // The running one's container runs too: the controller adopts it.
    const running = await given.get({ namespace: 'default', name: 'job-00000000000000bb' });
    const beforeStart = async (runner: FakeAgentRunner): Promise<void> => {
      const run = { namespace: 'default', name: running.metadata.name, uid: running.metadata.uid };
      await runner.start({ run, attempt: 1, containerName: containerName(run, 1), sessionId: SESSION, resume: false, spec: { prompt: 'earlier [hold]' }, deadlineSeconds: 1800 });
    };
    const { finish } = await start({ given, beforeStart });
    await finish('job-00000000000000bb', succeeded('done while we watched'));
    expect(await barrier()).toBe(1);
    const preexisting = payloads().filter((p) => (p as { job_id: string }).job_id.startsWith('job-00000000000000'));
    expect(preexisting).toEqual([expect.objectContaining({ job_id: 'job-00000000000000bb', status: 'completed', output: 'done while we watched' })]);
  });
});
