// `stromboli api --store kube` (issue 10): the Stromboli facade over the test bed's real
// kube-apiserver (cmd/kube-api.ts), with a node agent (cmd/kube.ts) running the runs in real
// podman with the fake Claude image and serving their logs on its authenticated log endpoint.
// Runs made through the API are AgentRuns kubectl sees; outputs, streams and `stromboli logs`
// come from the node agent through status.logRef; the endpoint refuses a request without the
// shared token, the token is in no log line, and a node agent that is gone is a quick, clear error.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import { startKubeApi } from '../../../cmd/kube-api.ts';
import type { KubeApi } from '../../../cmd/kube-api.ts';
import { startKubeNodeAgent } from '../../../cmd/kube.ts';
import type { KubeNodeAgent } from '../../../cmd/kube.ts';
import { CliError } from '../../../cmd/cli/client.ts';
import { main } from '../../../cmd/stromboli.ts';
import { createLogger } from '../../src/log.ts';
import { sseEvents } from '../../../api-server/test/helpers/sse.ts';
import { ensureFakeImage, removeContainersOfOwner } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { createNamespaceWithCrd, kubeTestBed, kubectl, scratchDir, uniqueName } from './test-bed.ts';

const bed = kubeTestBed();
const namespace = uniqueName('facade');
const nodeName = uniqueName('node');
const token = randomBytes(32).toString('hex');
const logLines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
    done();
  },
});
let agent: KubeNodeAgent;
let agentClosed = false;
let facade: KubeApi;
let dirs: string[] = [];

interface Job {
  id: string;
  status: string;
  output?: string;
  session_id?: string;
  error?: string;
}

function api(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${facade.url}${path}`, init);
}

function postJson(path: string, body: unknown): Promise<Response> {
  return api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function agentRun(name: string): Promise<{ metadata: { labels?: Record<string, string>; uid: string }; status?: AgentRunStatus } | undefined> {
  const got = await kubectl(bed, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  return got.exitCode === 0 ? (JSON.parse(got.stdout) as { metadata: { labels?: Record<string, string>; uid: string }; status?: AgentRunStatus }) : undefined;
}

/** Runs the stromboli CLI in-process against the facade; its output, or the CliError it ended with. */
async function cli(args: readonly string[]): Promise<{ out: string; error?: CliError }> {
  let out = '';
  try {
    await main([...args, '--server', facade.url, '-n', namespace], (text) => (out += text));
    return { out };
  } catch (err) {
    if (err instanceof CliError) return { out, error: err };
    throw err;
  }
}

async function finishedJob(id: string): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(async () => {
      job = (await (await api(`/jobs/${id}`)).json()) as Job;
      return job.status;
    }, { timeout: 120_000, interval: 500 })
    .toBe('completed');
  return job as Job;
}

beforeAll(async () => {
  await ensureFakeImage();
  await createNamespaceWithCrd(bed, namespace);
  const secrets = scratchDir(bed, 'facade-token');
  const tokenFile = join(secrets, 'log-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const agentState = await mkdtemp(join(tmpdir(), 'stromboli-facade-node-'));
  const apiState = await mkdtemp(join(tmpdir(), 'stromboli-facade-api-'));
  dirs = [agentState, apiState];
  const log = createLogger({ level: 'debug', destination: capture });
  const agentConfig = ServeConfigSchema.parse({ stateDir: agentState, containersConf: CONTAINERS_CONF, image: FAKE_IMAGE, containerNetwork: 'none', maxConcurrentRuns: 4, pollMs: 1_000, retryDelayMs: 100 });
  agent = await startKubeNodeAgent(agentConfig, { kubeconfig: bed.kubeconfigPath, namespace, nodeName, leaseNamespace: namespace, logAddress: '127.0.0.1:0', logTokenFile: tokenFile, logHeartbeatMs: 500 }, log, {});
  const apiConfig = ServeConfigSchema.parse({ stateDir: apiState, port: 0, auth: 'off', rateLimitPerMinute: 0, metricsAddress: '127.0.0.1:0' });
  facade = await startKubeApi(apiConfig, { kubeconfig: bed.kubeconfigPath, namespace, logTokenFile: tokenFile, logConnectTimeoutMs: 2_000 }, log, {});
});

afterAll(async () => {
  await facade?.close();
  if (!agentClosed) await agent?.close();
  await removeContainersOfOwner(`node-${nodeName}`);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await kubectl(bed, ['delete', 'namespace', namespace, '--wait=false']);
});

describe('the Stromboli facade over the Kubernetes API', () => {
  let asyncJob: string;

  it('creates an AgentRun in the cluster for POST /run/async and follows it to completed with GET /jobs/{id}', async () => {
    const res = await postJson('/run/async', { prompt: 'async over kube' });
    expect(res.status).toBe(202);
    const { job_id: id, session_id: sessionId } = (await res.json()) as { job_id: string; session_id: string };
    expect(id).toMatch(/^job-[0-9a-f]{16}$/);
    const created = await agentRun(id);
    expect(created?.metadata.labels?.['stromboli.dev/source']).toBe('api');
    const job = await finishedJob(id);
    expect(job).toMatchObject({ id, status: 'completed', output: 'echo: async over kube', session_id: sessionId });
    const run = await agentRun(id);
    expect(run?.status?.node).toBe(nodeName);
    expect(run?.status?.logRef).toBe(`${agent.logUrl}/logs/${namespace}/${id}/${run?.metadata.uid}/attempts/1`);
    const list = (await (await api('/jobs')).json()) as { jobs: Job[] };
    expect(list.jobs.map((j) => j.id)).toContain(id);
    asyncJob = id;
  });

  it('streams a run\'s output from the node agent on /run/stream, ending with event: done', async () => {
    const res = await api(`/run/stream?prompt=${encodeURIComponent('stream over kube [fake:sleep=1]')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const name = res.headers.get('x-stromboli-run-id') ?? '';
    const frames = sseEvents(await res.text());
    const lines = frames.filter((f) => f.event === undefined);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map((f) => f.id)).toEqual(lines.map((_, i) => `${name}:${i + 1}`));
    const events = lines.map((f) => JSON.parse(f.data ?? '') as { type: string; result?: string });
    expect(events[0]?.type).toBe('system');
    expect(events.find((e) => e.type === 'result')?.result).toBe('echo: stream over kube [fake:sleep=1]');
    const done = frames.at(-1);
    expect(done?.event).toBe('done');
    expect(JSON.parse(done?.data ?? '{}')).toMatchObject({ id: name, status: 'completed' });
    // Re-attaching replays the same lines from the node agent after the run finished.
    const again = sseEvents(await (await api(`/jobs/${name}/stream`, { headers: { 'last-event-id': `${name}:1` } })).text());
    expect(again.filter((f) => f.event === undefined).map((f) => f.id)).toEqual(lines.slice(1).map((f) => f.id));
  });

  it('answers POST /run with the result, and reads the json output format from the node agent\'s log', async () => {
    const res = await postJson('/run', { prompt: 'sync over kube' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'completed', output: 'echo: sync over kube' });
    const json = await postJson('/run', { prompt: 'json over kube', claude: { output_format: 'json' } });
    expect(json.status).toBe(200);
    const body = (await json.json()) as { output: string };
    expect(JSON.parse(body.output)).toMatchObject({ type: 'result', result: 'echo: json over kube' });
  });

  it('serves stromboli get and stromboli logs NAME through the facade', async () => {
    const table = await cli(['get']);
    expect(table.error).toBeUndefined();
    expect(table.out).toMatch(new RegExp(`^(${namespace}/)?${asyncJob}\\s+Succeeded\\s+Succeeded\\s`, 'm'));
    const one = await cli(['get', asyncJob, '-o', 'json']);
    expect((JSON.parse(one.out) as { status: AgentRunStatus }).status.node).toBe(nodeName);
    const logs = await cli(['logs', asyncJob]);
    expect(logs.error).toBeUndefined();
    const events = logs.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; result?: string });
    expect(events.find((e) => e.type === 'result')?.result).toBe('echo: async over kube');
    const followed = await cli(['logs', asyncJob, '-f']);
    expect(followed.out).toBe(logs.out);
  });

  it('applies, cancels and deletes a run with the stromboli client through the facade', async () => {
    const name = uniqueName('cli');
    const file = join(scratchDir(bed, 'facade-cli'), 'run.yaml');
    await writeFile(file, `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: "[fake:sleep=300] hold on"\n  podman: {image: ${FAKE_IMAGE}}\n`);
    const applied = await cli(['apply', '-f', file]);
    expect(applied.out).toBe(`agentrun.stromboli.dev/${name} created\n`);
    await expect.poll(async () => (await agentRun(name))?.status?.phase, { timeout: 60_000, interval: 300 }).toBe('Running');
    expect((await cli(['cancel', name])).error).toBeUndefined();
    await expect.poll(async () => (await agentRun(name))?.status?.phase, { timeout: 60_000, interval: 300 }).toBe('Cancelled');
    expect((await cli(['delete', name])).out).toBe(`agentrun.stromboli.dev/${name} deleted\n`);
    await expect.poll(async () => agentRun(name), { timeout: 60_000, interval: 300 }).toBeUndefined();
  });

  it('lists the sessions the namespace\'s runs name, and says that transcripts live on the nodes (503)', async () => {
    const job = (await (await api(`/jobs/${asyncJob}`)).json()) as Job;
    const sessions = (await (await api('/sessions')).json()) as { sessions: Array<{ id: string; title: string }> };
    expect(sessions.sessions).toContainEqual({ id: job.session_id, title: '' });
    const history = await api(`/sessions/${job.session_id ?? ''}/messages`);
    expect(history.status).toBe(503);
    expect(((await history.json()) as { error: string }).error).toMatch(/sessions live on the node agents/);
    const removed = await api(`/sessions/${job.session_id ?? ''}`, { method: 'DELETE' });
    expect(removed.status).toBe(503);
    expect(await removed.json()).toMatchObject({ success: false });
    const health = (await (await api('/health')).json()) as { status: string; components?: unknown };
    expect(health).toMatchObject({ status: 'ok', name: 'stromboli' });
    expect(health.components).toBeUndefined();
    expect((await api('/secrets')).status).toBe(404);
    expect((await api('/images')).status).toBe(404);
    // Its metrics listener: the request metrics of a facade with no node agent in its process.
    const metrics = await (await fetch(facade?.metricsUrl ?? '')).text();
    expect(metrics).toMatch(/^http_requests_total\{method="GET",route="\/health",status="200"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]\d*$/m);
    expect(metrics).not.toContain('controller_runtime_reconcile_total');
  });

  it('refuses a log request without the shared token (401) and serves it with the token', async () => {
    const logRef = (await agentRun(asyncJob))?.status?.logRef ?? '';
    expect(logRef.startsWith('http://127.0.0.1:')).toBe(true);
    const bare = await fetch(logRef);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await fetch(logRef, { headers: { authorization: `Bearer ${token.slice(0, -1)}x` } })).status).toBe(401);
    const good = await fetch(`${logRef}?fromLine=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(good.status).toBe(200);
    expect(good.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const records = (await good.text()).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => typeof r === 'string')).toBe(true);
  });

  it('answers a clear error quickly, never a hang, when the node agent holding a log is gone', async () => {
    await agent.close();
    agentClosed = true;
    const started = Date.now();
    const native = await api(`/apis/stromboli.dev/v1alpha1/namespaces/${namespace}/agentruns/${asyncJob}/log`);
    expect(native.status).toBe(503);
    expect(((await native.json()) as { message: string }).message).toMatch(new RegExp(`cannot read the log of ${namespace}/${asyncJob}: the node agent of ${nodeName} at http://127\\.0\\.0\\.1:\\d+ is unreachable`));
    const logs = await cli(['logs', asyncJob]);
    expect(logs.error?.message).toMatch(/node agent .* is unreachable/);
    const stream = sseEvents(await (await api(`/jobs/${asyncJob}/stream`)).text());
    expect(stream.at(-1)).toMatchObject({ event: 'error' });
    expect(stream.at(-1)?.data).toMatch(/is unreachable/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('never writes the token in a log line', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.some((l) => l.includes('log endpoint serving'))).toBe(true);
    expect(logLines.filter((l) => l.includes(token) || l.includes(token.slice(0, 16)))).toEqual([]);
  });
});
