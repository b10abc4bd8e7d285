// Compatibility suite of Stromboli's run family against the real thing: `startEmbedded` (file
// store + controller + API) on a free port with temp directories, the fake Claude image as the
// default agent image, real podman, real HTTP (fetch). Every container it makes carries this
// server's owner label and is removed afterwards by that label.
import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServeConfigSchema } from '../../cmd/config.ts';
import { ownerOf, startEmbedded } from '../../cmd/serve.ts';
import type { EmbeddedServer } from '../../cmd/serve.ts';
import { createLogger } from '../../controller/src/log.ts';
import { Labels } from '../../controller/src/runner/names.ts';
import { sseEvents } from './helpers/sse.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMAGE = 'localhost/stromboli/fake-claude:latest';
const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? join(repoRoot, 'config/containers.conf');
const podmanEnv: NodeJS.ProcessEnv = { ...process.env, ...(existsSync(CONTAINERS_CONF) ? { CONTAINERS_CONF } : {}) };
const SIGNING_SECRET = `whsec-${randomUUID()}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROMPT_REQUIRED = "Invalid request: Key: 'RunRequest.Prompt' Error:Field validation for 'Prompt' failed on the 'required' tag";

function run(cmd: string, args: readonly string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(cmd, [...args], { env: podmanEnv, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolveRun({ code, stdout, stderr });
    });
  });
}

let server: EmbeddedServer;
let owner: string;
let dirs: string[] = [];
let receiver: Server;
const hooks: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
let hookUrl: string;
const startedAt = Date.now();

/** Names of this server's containers (running ones only, unless `all`), optionally of one run. */
async function containersOf(runName?: string, all = false): Promise<string[]> {
  const filters = ['--filter', `label=${Labels.owner}=${owner}`, ...(runName === undefined ? [] : ['--filter', `label=${Labels.name}=${runName}`])];
  const res = await run('podman', ['ps', ...(all ? ['-a'] : []), ...filters, '--format', '{{.Names}}']);
  if (res.code !== 0) throw new Error(`podman ps failed: ${res.stderr}`);
  return res.stdout.split('\n').filter((line) => line.trim() !== '');
}

function api(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${server.url}${path}`, init);
}

function postJson(path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return api(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function jobStatus(id: string): Promise<string> {
  const res = await api(`/jobs/${id}`);
  return ((await res.json()) as { status: string }).status;
}

beforeAll(async () => {
  const info = await run('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}']);
  if (info.code !== 0) throw new Error(`podman is not usable (this suite needs it; source scripts/lib/podman.sh): ${info.stderr}`);
  const build = await run('bash', [join(repoRoot, 'images/fake-claude/build.sh')]);
  if (build.code !== 0) throw new Error(`fake-claude image build failed: ${build.stderr}`);

  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolveListen) => receiver.listen(0, '127.0.0.1', resolveListen));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const base = await mkdtemp(join(tmpdir(), 'stromboli-run-family-'));
  dirs = [base];
  const config = ServeConfigSchema.parse({
    runsDir: join(base, 'runs'),
    stateDir: join(base, 'state'),
    port: 0,
    image: IMAGE,
    ...(existsSync(CONTAINERS_CONF) ? { containersConf: CONTAINERS_CONF } : {}),
    containerNetwork: 'none',
    // The fake never calls it; it makes the server "configured" (no credential secrets needed).
    anthropicBaseUrl: 'http://127.0.0.1:9',
    pollMs: 500,
    auth: 'off',
    rateLimitPerMinute: 0,
  });
  server = await startEmbedded(config, createLogger({ level: process.env.STROMBOLI_LOG_LEVEL ?? 'error' }), {
    env: { STROMBOLI_WEBHOOK_SIGNING_SECRET: SIGNING_SECRET, STROMBOLI_WEBHOOK_ALLOW_PRIVATE: 'true' },
  });
  owner = await ownerOf(config.stateDir);
});

afterAll(async () => {
  await server?.close();
  if (owner !== undefined) {
    const leftovers = await containersOf(undefined, true);
    if (leftovers.length > 0) await run('podman', ['rm', '-f', ...leftovers]);
    expect(await containersOf(undefined, true)).toEqual([]);
  }
  await new Promise((resolveClose) => receiver?.close(resolveClose));
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  console.info(`run-family compatibility suite: ${((Date.now() - startedAt) / 1000).toFixed(1)} s wall time`);
});

describe('Stromboli run family over real podman', () => {
  it('POST /run (JSON without Content-Type) answers the completed run with output, usage and session', async () => {
    const prompt = 'hello from the suite';
    const res = await postJson('/run', { prompt }, {});
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const l = Buffer.byteLength(prompt, 'utf8');
    expect(body).toEqual({
      id: expect.stringMatching(/^run-[0-9a-f]{16}$/),
      status: 'completed',
      output: `echo: ${prompt}`,
      session_id: expect.stringMatching(UUID),
      usage: {
        model: expect.any(String),
        input_tokens: l,
        output_tokens: 2 * l,
        cache_creation_input_tokens: 3 * l,
        cache_read_input_tokens: 4 * l,
        total_tokens: 10 * l,
        estimated_cost_usd: Math.round(l * 0.0001 * 1e6) / 1e6,
      },
    });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('POST /run/async gives a job id, the job completes, GET /jobs shows it, the webhook is signed', async () => {
    const res = await postJson('/run/async', { prompt: 'async job', webhook_url: hookUrl });
    expect(res.status).toBe(202);
    const { job_id: id, session_id: sessionId } = (await res.json()) as { job_id: string; session_id: string };
    expect(id).toMatch(/^job-[0-9a-f]{16}$/);
    expect(sessionId).toMatch(UUID);
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('completed');
    const job = (await (await api(`/jobs/${id}`)).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ id, status: 'completed', output: 'echo: async job', session_id: sessionId });
    expect(job.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const list = (await (await api('/jobs')).json()) as { jobs: Array<{ id: string }> };
    expect(list.jobs.map((j) => j.id)).toContain(id);

    await expect.poll(() => hooks.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    const hook = hooks.find((h) => h.body.includes(id));
    expect(JSON.parse(hook?.body ?? '{}')).toMatchObject({ job_id: id, status: 'completed', output: 'echo: async job', session_id: sessionId });
    const timestamp = String(hook?.headers['x-stromboli-timestamp']);
    const expected = createHmac('sha256', SIGNING_SECRET).update(`${timestamp}.${hook?.body ?? ''}`).digest('hex');
    expect(hook?.headers['x-stromboli-signature']).toBe(`sha256=${expected}`);
  });

  it('GET /run/stream sends one data frame per stream-json line and ends with event: done', async () => {
    const res = await api('/run/stream?prompt=streamed');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const name = res.headers.get('x-stromboli-run-id') ?? '';
    const all = sseEvents(await res.text());
    const lines = all.filter((f) => f.event === undefined);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.map((f) => f.id)).toEqual(lines.map((_, i) => `${name}:${i + 1}`));
    expect(JSON.parse(lines[0]?.data ?? '{}')).toMatchObject({ type: 'system', subtype: 'init' });
    expect(lines.map((f) => JSON.parse(f.data ?? '{}') as { type: string }).at(-1)).toMatchObject({ type: 'result', result: 'echo: streamed' });
    const done = all.at(-1);
    expect(done?.event).toBe('done');
    expect(JSON.parse(done?.data ?? '{}')).toMatchObject({ id: name, status: 'completed', session_id: expect.stringMatching(UUID) });

    // A reconnect with Last-Event-ID re-attaches to that run (no second run) and replays the rest.
    const again = await api('/run/stream?prompt=streamed', { headers: { 'last-event-id': `${name}:${lines.length - 1}` } });
    const replay = sseEvents(await again.text());
    expect(replay.map((f) => f.id ?? f.event)).toEqual([`${name}:${lines.length}`, 'done']);
  });

  it('resumes a session over the API (POST /run and /run/stream), and a missing session is a CLI error', async () => {
    const session = randomUUID();
    const first = await postJson('/run', { prompt: 'first', claude: { session_id: session } });
    expect(((await first.json()) as { status: string }).status).toBe('completed');
    const second = (await (await postJson('/run', { prompt: 'second', claude: { session_id: session, resume: true } })).json()) as Record<string, unknown>;
    expect(second).toMatchObject({ status: 'completed', session_id: session, output: 'echo: second (turn 2; previous prompt: first)' });
    const streamed = sseEvents(await (await api(`/run/stream?prompt=third&session_id=${session}&resume=true`)).text());
    expect(streamed.some((f) => f.data?.includes('echo: third (turn 3; previous prompt: second)') === true)).toBe(true);
    expect(streamed.at(-1)?.event).toBe('done');

    const missing = await postJson('/run', { prompt: 'nothing to resume', claude: { session_id: randomUUID(), resume: true } });
    expect(missing.status).toBe(500);
    const body = (await missing.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: expect.stringMatching(/^run-/), status: 'error', error: expect.stringMatching(/^execution failed: /) });
  });

  it('DELETE /jobs/{id} cancels a running job for good and its container stops', async () => {
    const res = await postJson('/run/async', { prompt: 'long job [fake:sleep=300]' });
    const { job_id: id } = (await res.json()) as { job_id: string };
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('running');
    await expect.poll(() => containersOf(id), { timeout: 30_000, interval: 250 }).toHaveLength(1);

    const cancel = await api(`/jobs/${id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ cancelled: true, job_id: id });
    expect(await jobStatus(id)).toBe('cancelled');
    await expect.poll(() => containersOf(id), { timeout: 60_000, interval: 250 }).toEqual([]);
    const resource = await api(`/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/${id}`);
    await expect
      .poll(async () => ((await (await api(`/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/${id}`)).json()) as { status?: { phase?: string } }).status?.phase, { timeout: 30_000 })
      .toBe('Cancelled');
    expect(resource.status).toBe(200);
    expect(await jobStatus(id)).toBe('cancelled');
    const again = await api(`/jobs/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ id: '', status: 'error', error: 'cannot cancel job (already completed, failed, or cancelled)' });
  });

  it('answers a crash with 200 crashed and crash_info, and an API error as Stromboli\'s 500', async () => {
    const crash = await postJson('/run', { prompt: 'boom [fake:crash]' });
    expect(crash.status).toBe(200);
    expect(await crash.json()).toMatchObject({ status: 'crashed', crash_info: { exit_code: 139, signal: 'SIGSEGV' } });
    const apiError = await postJson('/run', { prompt: 'overloaded [fake:api-error]' });
    expect(apiError.status).toBe(500);
    expect(await apiError.json()).toMatchObject({ status: 'error', error: expect.stringMatching(/^execution failed: ApiError: /) });
  });

  it('answers what the controller refuses (volume outside the allowlist, missing image) with 400 and Stromboli\'s prefixes', async () => {
    const volume = await postJson('/run', { prompt: 'x', podman: { volumes: ['/etc:/data:ro'] } });
    expect(volume.status).toBe(400);
    expect(await volume.json()).toMatchObject({ id: expect.stringMatching(/^run-/), status: 'error', error: expect.stringMatching(/^volume validation failed: /) });
    const image = await postJson('/run', { prompt: 'x', podman: { image: 'localhost/stromboli/no-such-image:1' } });
    expect(image.status).toBe(400);
    expect(await image.json()).toMatchObject({ status: 'error', error: expect.stringMatching(/^image validation failed: /) });
    expect((await containersOf(undefined, true)).length).toBe(0);
  });

  it.each([
    ['a missing prompt', '/run', {}, 400, PROMPT_REQUIRED],
    ['a prompt of the wrong type', '/run', { prompt: 42 }, 400, 'Invalid request: prompt: expected a string, got number'],
    ['an option of the wrong type', '/run/async', { prompt: 'x', claude: { max_turns: 'many' } }, 400, /^Invalid request: claude\.max_turns: /],
    ['malformed JSON', '/run', '{"prompt": "x"', 400, /^Invalid request: /],
    ['an empty body', '/run/async', '', 400, 'Invalid request: EOF'],
    ['session-id traversal', '/run', { prompt: 'x', claude: { session_id: '../../../etc' } }, 400, 'Invalid request: claude.session_id: must be a UUID (the Claude CLI accepts nothing else)'],
    ['workdir traversal', '/run', { prompt: 'x', workdir: '/workspace/../../etc' }, 400, 'workdir validation failed: workdir cannot contain path traversal (..) sequences'],
    ['a body over the limit', '/run', { prompt: 'x'.repeat(2 * 1024 * 1024) }, 413, /too large/],
  ])('answers %s with a documented 4xx and creates nothing', async (_case, path, body, status, message) => {
    const before = ((await (await api('/jobs')).json()) as { jobs: unknown[] }).jobs.length;
    const res = await postJson(path, body);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ id: '', status: 'error', error: typeof message === 'string' ? message : expect.stringMatching(message) });
    expect(((await (await api('/jobs')).json()) as { jobs: unknown[] }).jobs.length).toBe(before);
  });

  it('answers a stream without prompt in text/plain, and unknown or traversing job ids with 404', async () => {
    const stream = await api('/run/stream');
    expect(stream.status).toBe(400);
    expect(stream.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await stream.text()).toBe('Missing required parameter: prompt');
    for (const id of ['job-0000000000000000', '..%2F..%2Fetc%2Fpasswd', 'run-..']) {
      const res = await api(`/jobs/${id}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ id: '', status: 'error', error: 'job not found' });
    }
  });
});
