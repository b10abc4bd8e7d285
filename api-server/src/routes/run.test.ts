// POST /run and POST /run/async through app.inject, over a MemoryStore with the real controller.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { MAX_PROMPT_BYTES } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { succeeded } from '../../test/helpers/agent-script.ts';
import { startTestBed } from '../../test/helpers/facade-test-bed.ts';
import type { TestBed, TestBedOptions } from '../../test/helpers/facade-test-bed.ts';
import { SOURCE_LABEL, WEBHOOK_ANNOTATION } from '../run-facade/names.ts';
import { PROMPT_REQUIRED } from '../run-facade/run-request.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SESSION = '0b0f6c1e-8a55-4c1b-9d7e-2f3a4b5c6d7e';

let store: MemoryStore<AgentRunStatus>;
let bed: TestBed | undefined;

async function start(options: Omit<TestBedOptions, 'store'> = {}): Promise<TestBed> {
  store = new MemoryStore<AgentRunStatus>();
  bed = await startTestBed({ store, ...options });
  return bed;
}

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

function post(url: string, payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  if (bed === undefined) throw new Error('no test bed');
  return bed.app.inject({ method: 'POST', url, headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
}

async function onlyRun() {
  const runs = await store.list();
  expect(runs).toHaveLength(1);
  const run = runs[0];
  if (run === undefined) throw new Error('no run');
  return run;
}

describe('POST /run', () => {
  it('creates a labelled AgentRun, waits for it and answers a completed RunResponse', async () => {
    await start();
    const res = await post('/run', { prompt: 'hello' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^run-[0-9a-f]{16}$/),
      status: 'completed',
      output: 'echo: hello',
      session_id: expect.stringMatching(UUID),
      usage: {
        model: 'claude-fake-1',
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 2,
        cache_read_input_tokens: 3,
        total_tokens: 20,
        estimated_cost_usd: 0.001235,
      },
    });
    const run = await onlyRun();
    expect(run.metadata.name).toBe(body.id);
    expect(run.metadata.labels).toEqual({ [SOURCE_LABEL]: 'api' });
    expect(run.metadata.annotations).toBeUndefined();
    expect(run.spec).toEqual({ prompt: 'hello', session: { id: body.session_id }, ttlSecondsAfterFinished: 3600 });
  });

  it('reads JSON without a Content-Type, or with a wrong one, as Stromboli does', async () => {
    await start();
    expect((await post('/run', { prompt: 'a' }, {})).statusCode).toBe(200);
    expect((await post('/run', { prompt: 'b' }, { 'content-type': 'text/plain' })).statusCode).toBe(200);
    expect((await post('/run', { prompt: 'c' }, { 'content-type': 'application/x-www-form-urlencoded' })).statusCode).toBe(200);
  });

  it('ignores unknown fields, at the top level and inside claude and podman', async () => {
    await start();
    const res = await post('/run', { prompt: 'x', extra: 1, claude: { model: 'sonnet', no_such: true }, podman: { memory: '1g', nope: 'x' } });
    expect(res.statusCode).toBe(200);
    expect((await onlyRun()).spec).toMatchObject({ claude: { model: 'sonnet' }, podman: { memory: '1g' } });
  });

  it('converts snake_case claude, session and podman fields into the AgentRun spec', async () => {
    await start();
    const res = await post('/run', {
      prompt: 'x',
      workdir: '/workspace/app',
      webhook_url: 'http://127.0.0.1/ignored-by-run',
      claude: { session_id: SESSION, resume: true, fork_session: true, max_turns: 3, allowed_tools: ['Read'], output_format: 'text', system_prompt: '' },
      podman: { timeout: '10m', secrets_env: { TOKEN: 'gh-token' }, lifecycle: { post_start: ['echo hi'] } },
    });
    expect(res.statusCode).toBe(200);
    const run = await onlyRun();
    // A fork runs as a new session, named by the controller at start: the answer gives that id.
    expect(res.json().session_id).toMatch(UUID);
    expect(res.json().session_id).not.toBe(SESSION);
    expect(res.json().session_id).toBe(run.status?.sessionId);
    expect(run.spec).toEqual({
      prompt: 'x',
      workdir: '/workspace/app',
      claude: { maxTurns: 3, allowedTools: ['Read'], outputFormat: 'text' },
      podman: { timeout: '10m', secretsEnv: { TOKEN: 'gh-token' }, lifecycle: { postStart: ['echo hi'] } },
      session: { id: SESSION, resume: true, fork: true },
      ttlSecondsAfterFinished: 3600,
    });
    // /run ignores webhook_url, as Stromboli does: no annotation, no check.
    expect(run.metadata.annotations).toBeUndefined();
  });

  it('lower-cases an upper-case session id (UUIDs are case-insensitive)', async () => {
    await start();
    const res = await post('/run', { prompt: 'x', claude: { session_id: SESSION.toUpperCase() } });
    expect(res.json().session_id).toBe(SESSION);
  });

  it.each([
    ['no prompt', {}],
    ['an empty prompt', { prompt: '' }],
    ['a null prompt', { prompt: null }],
  ])('answers 400 with Gin\'s binder message for %s', async (_case, body) => {
    await start();
    const res = await post('/run', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ id: '', status: 'error', error: PROMPT_REQUIRED });
    expect(await store.list()).toHaveLength(0);
  });

  it.each([
    ['an empty body', '', 'Invalid request: EOF'],
    ['a blank body', '  \n', 'Invalid request: EOF'],
    ['malformed JSON', '{"prompt": ', /^Invalid request: /],
    ['a JSON array', '[1,2]', 'Invalid request: expected a JSON object, got array'],
    ['a JSON string', '"hi"', 'Invalid request: expected a JSON object, got string'],
    ['a prototype-poisoning body', '{"prompt":"x","__proto__":{"polluted":true}}', /^Invalid request: /],
  ])('answers 400 for %s', async (_case, payload, message) => {
    await start();
    const res = await post('/run', payload);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ id: '', status: 'error' });
    expect(body.error).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  });

  it('answers 400 for an empty request without Content-Type', async () => {
    await start();
    const res = await bed?.app.inject({ method: 'POST', url: '/run' });
    expect(res?.statusCode).toBe(400);
    expect(res?.json()).toEqual({ id: '', status: 'error', error: 'Invalid request: EOF' });
  });

  it.each([
    ['prompt of the wrong type', { prompt: 5 }, 'Invalid request: prompt: expected a string, got number'],
    ['claude of the wrong type', { prompt: 'x', claude: 'opus' }, 'Invalid request: claude: expected an object, got string'],
    ['podman of the wrong type', { prompt: 'x', podman: [] }, 'Invalid request: podman: expected an object, got array'],
    ['max_turns of the wrong type', { prompt: 'x', claude: { max_turns: '3' } }, /^Invalid request: claude\.max_turns: /],
    ['resume of the wrong type', { prompt: 'x', claude: { session_id: SESSION, resume: 'yes' } }, /^Invalid request: claude\.resume: /],
    ['an unknown permission mode', { prompt: 'x', claude: { permission_mode: 'yolo' } }, /^Invalid request: claude\.permission_mode: /],
    ['a bad memory size', { prompt: 'x', podman: { memory: 'lots' } }, /^Invalid request: podman\.memory: /],
    ['a bad hooks timeout', { prompt: 'x', podman: { lifecycle: { hooks_timeout: 'soon' } } }, /^Invalid request: podman\.lifecycle\.hooks_timeout: /],
    ['a secret for LD_PRELOAD', { prompt: 'x', podman: { secrets_env: { LD_PRELOAD: 's' } } }, /^Invalid request: podman\.secrets_env/],
    ['a compose environment', { prompt: 'x', podman: { environment: { type: 'compose', path: '/c.yml', service: 's' } } }, /^Invalid request: podman\.environment: compose/],
    ['a workdir of the wrong type', { prompt: 'x', workdir: 1 }, 'Invalid request: workdir: expected a string, got number'],
    ['a webhook_url of the wrong type', { prompt: 'x', webhook_url: {} }, 'Invalid request: webhook_url: expected a string, got object'],
  ])('answers 400 (never 500) for %s', async (_case, body, message) => {
    await start();
    const res = await post('/run', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ id: '', status: 'error', error: typeof message === 'string' ? message : expect.stringMatching(message) });
    expect(await store.list()).toHaveLength(0);
  });

  it.each([
    ['relative', 'work', 'workdir validation failed: workdir must be an absolute path starting with /'],
    ['with a space', '/my dir', 'workdir validation failed: workdir contains invalid characters (only alphanumeric, /, _, ., - allowed)'],
    ['with traversal', '/workspace/../etc', 'workdir validation failed: workdir cannot contain path traversal (..) sequences'],
    ['too long', `/${'a'.repeat(4096)}`, 'workdir validation failed: workdir path too long (max 4096 characters)'],
  ])('checks the workdir as Stromboli does (%s), answering 400', async (_case, workdir, message) => {
    await start();
    const res = await post('/run', { prompt: 'x', workdir });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ id: '', status: 'error', error: message });
  });

  it.each(['../../etc/passwd', 'abc/def', 'not-a-uuid', '..', '0b0f6c1e-8a55-4c1b-9d7e-2f3a4b5c6d7e/../x'])('refuses the session id %j (no traversal reaches a session directory)', async (id) => {
    await start();
    const res = await post('/run', { prompt: 'x', claude: { session_id: id } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('Invalid request: claude.session_id: must be a UUID (the Claude CLI accepts nothing else)');
  });

  it('refuses resume without a session id (Stromboli fails it at run time with 500)', async () => {
    await start();
    const res = await post('/run', { prompt: 'x', claude: { resume: true } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('Invalid request: claude.resume: needs claude.session_id (the session to resume)');
  });

  it('answers 400 for a prompt over MAX_PROMPT_BYTES and 413 with the envelope for a body over the limit', async () => {
    await start();
    const big = await post('/run', { prompt: 'x'.repeat(MAX_PROMPT_BYTES + 1) });
    expect(big.statusCode).toBe(400);
    expect(big.json().error).toBe(`Invalid request: prompt: prompt is larger than ${MAX_PROMPT_BYTES} bytes`);
    const huge = await post('/run', { prompt: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toEqual({ id: '', status: 'error', error: expect.stringMatching(/too large/) });
    expect(await store.list()).toHaveLength(0);
  });

  it('answers a crashed run with 200, status crashed and Stromboli-shaped crash_info', async () => {
    await start();
    const res = await post('/run', { prompt: 'boom [crash]' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: expect.stringMatching(/^run-/),
      status: 'crashed',
      output: 'partial answer',
      session_id: expect.stringMatching(UUID),
      crash_info: { exit_code: 139, signal: 'SIGSEGV', reason: 'Process killed by SIGSEGV', partial_output: 'partial answer' },
    });
  });

  it('answers a run past its deadline as crashed, with a timeout reason', async () => {
    await start();
    const res = await post('/run', { prompt: 'slow [deadline]' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'crashed', crash_info: { exit_code: 143, signal: 'SIGTERM', reason: expect.stringMatching(/^timeout: /) } });
  });

  it('answers an out-of-memory run as crashed', async () => {
    await start();
    const res = await post('/run', { prompt: 'big [oom]' });
    expect(res.json()).toMatchObject({ status: 'crashed', crash_info: { exit_code: 137, signal: 'SIGKILL', reason: 'Process killed: out of memory' } });
  });

  it('answers a Claude error as Stromboli does (500, "execution failed: …"), with the run id and reason', async () => {
    await start();
    const res = await post('/run', { prompt: 'loop [fail]' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      id: expect.stringMatching(/^run-/),
      status: 'error',
      error: 'execution failed: MaxTurns: Reached maximum number of turns (1)',
      session_id: expect.stringMatching(UUID),
      usage: expect.objectContaining({ total_tokens: 20 }),
    });
  });

  it('answers a volume refused by the controller with 400 and Stromboli\'s message prefix', async () => {
    await start();
    const res = await post('/run', { prompt: 'mount [volume]' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ status: 'error', error: 'volume validation failed: volume host path /etc is not allowed' });
  });

  it('answers 409 when the run is cancelled while the request waits', async () => {
    const { app } = await start();
    const pending = post('/run', { prompt: 'wait [hold]' });
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    const id = (await onlyRun()).metadata.name;
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(200);
    const res = await pending;
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ id, status: 'error', error: 'run cancelled' });
  });

  it('answers 410 when the run is deleted while the request waits', async () => {
    await start();
    const pending = post('/run', { prompt: 'wait [hold]' });
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    const run = await onlyRun();
    await store.delete(run.metadata);
    const res = await pending;
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ id: run.metadata.name, status: 'error', error: 'the run was deleted before it finished' });
  });

  it('returns the structured output, and renders output as json or stream-json when asked', async () => {
    const { finish } = await start();
    const pending = post('/run', { prompt: 'schema [hold]', claude: { output_format: 'json', json_schema: '{"type":"object"}' } });
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    await finish((await onlyRun()).metadata.name, succeeded('done', { structuredOutput: { answer: 42 } }));
    const body = (await pending).json();
    expect(body.structured_output).toEqual({ answer: 42 });
    expect(JSON.parse(body.output)).toMatchObject({ type: 'result', result: 'done', structured_output: { answer: 42 } });

    const stream = (await post('/run', { prompt: 'lines', claude: { output_format: 'stream-json' } })).json();
    const lines = String(stream.output).split('\n').map((l) => JSON.parse(l).type);
    expect(lines).toEqual(['system', 'assistant', 'result']);
  });

  it('reads a result that status had to truncate from the persisted log', async () => {
    const { finish } = await start();
    const pending = post('/run', { prompt: 'long [hold]' });
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    const full = 'y'.repeat(20_000);
    const run = await onlyRun();
    // Longer than MAX_RESULT_CHARS: the controller keeps a truncated result in status.
    await finish(run.metadata.name, succeeded(full));
    expect((await pending).json().output).toBe(full);
  });

  it('answers 503 when Claude is not configured, but a bad body is still a 400 first', async () => {
    await start({ ports: { health: { check: async () => [], claudeConfigured: async () => false } } });
    const res = await post('/run', { prompt: 'x' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ id: '', status: 'error', error: 'Claude not configured. Start the server with --claude-credentials-file FILE, or with ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in its environment (docs/operations.md, "Credentials")' });
    expect((await post('/run', {})).statusCode).toBe(400);
    expect((await post('/run/async', { prompt: 'x' })).statusCode).toBe(503);
    expect(await store.list()).toHaveLength(0);
  });

  it('answers 503 to a waiting request when the server closes, and leaves the run alone', async () => {
    const { app } = await start();
    const pending = post('/run', { prompt: 'wait [hold]' });
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    await app.close();
    const res = await pending;
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toMatch(/^server shutting down; the run goes on: GET \/jobs\/run-/);
    const run = await onlyRun();
    expect(run.status?.phase).toBe('Running');
    expect(run.spec).not.toHaveProperty('cancel');
  });
});

describe('POST /run with a client that disconnects', () => {
  async function postAndDrop(url: string, prompt: string): Promise<void> {
    if (bed === undefined) throw new Error('no test bed');
    await bed.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = bed.app.server.address() as AddressInfo;
    const req = httpRequest({ host: '127.0.0.1', port, path: url, method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ prompt }));
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    req.destroy();
  }

  it('keeps the run going (readable as a job) by default', async () => {
    const { finish } = await start();
    await postAndDrop('/run', 'wait [hold]');
    const run = await onlyRun();
    // Give the server time to notice the close; the run must stay uncancelled.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await onlyRun()).spec).not.toHaveProperty('cancel');
    await finish(run.metadata.name, succeeded('later'));
    const job = await bed?.app.inject({ method: 'GET', url: `/jobs/${run.metadata.name}` });
    expect(job?.json()).toMatchObject({ status: 'completed', output: 'later' });
  });

  it('cancels the run with cancel_on_disconnect=true, as Stromboli would', async () => {
    await start();
    await postAndDrop('/run?cancel_on_disconnect=true', 'wait [hold]');
    await expect.poll(async () => (await onlyRun()).status?.phase).toBe('Cancelled');
  });
});

describe('POST /run/async', () => {
  const publicHost = async () => ['93.184.216.34'];
  // No network in unit tests: deliveries of these jobs' webhooks go nowhere.
  const delivered = async () => 200;

  it('answers 202 with a job id and the session id, and names the AgentRun after the job', async () => {
    await start();
    const res = await post('/run/async', { prompt: 'later' });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ job_id: expect.stringMatching(/^job-[0-9a-f]{16}$/), session_id: expect.stringMatching(UUID) });
    const run = await onlyRun();
    expect(run.metadata.name).toBe(body.job_id);
    expect(run.metadata.labels).toEqual({ [SOURCE_LABEL]: 'api' });
    expect(run.spec).toMatchObject({ prompt: 'later', session: { id: body.session_id } });
  });

  it('echoes a given session id', async () => {
    await start();
    expect((await post('/run/async', { prompt: 'x', claude: { session_id: SESSION } })).json().session_id).toBe(SESSION);
  });

  it('validates like /run, before anything is created', async () => {
    await start();
    const res = await post('/run/async', { prompt: '' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ id: '', status: 'error', error: PROMPT_REQUIRED });
    expect(await store.list()).toHaveLength(0);
  });

  it('stores an accepted webhook URL in an annotation', async () => {
    await start({ family: { resolveHost: publicHost, webhookTransport: delivered } });
    const res = await post('/run/async', { prompt: 'x', webhook_url: 'https://hooks.example.com/done?token=abc' });
    expect(res.statusCode).toBe(202);
    expect((await onlyRun()).metadata.annotations).toEqual({ [WEBHOOK_ANNOTATION]: 'https://hooks.example.com/done?token=abc' });
  });

  it.each([
    ['a loopback IP', 'http://127.0.0.1:9000/hook', /127\.0\.0\.1 is a loopback, link-local or private address/],
    ['an IPv6 loopback', 'http://[::1]/hook', /is a loopback, link-local or private address/],
    ['an IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook', /is a loopback, link-local or private address/],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data', /is a loopback, link-local or private address/],
    ['a private network', 'http://10.1.2.3/hook', /is a loopback, link-local or private address/],
    ['a name resolving to loopback', 'http://localhost:8080/hook', /localhost is a loopback/],
    ['another scheme', 'ftp://example.com/hook', /must be an absolute http or https URL/],
    ['a relative URL', '/hook', /must be an absolute http or https URL/],
    ['an unresolvable name', 'http://nowhere.invalid/hook', /cannot resolve nowhere\.invalid/],
  ])('refuses a webhook target on %s with 400', async (_case, url, message) => {
    const resolveHost = async (host: string) => {
      if (host === 'localhost') return ['127.0.0.1', '::1'];
      throw new Error('ENOTFOUND');
    };
    await start({ family: { resolveHost, webhookTransport: delivered } });
    const res = await post('/run/async', { prompt: 'x', webhook_url: url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ id: '', status: 'error', error: expect.stringMatching(message) });
    expect(res.json().error).toMatch(/^Invalid request: webhook_url: /);
    expect(await store.list()).toHaveLength(0);
  });

  it('accepts private targets when allowPrivateWebhooks is on', async () => {
    await start({ family: { webhooks: { allowPrivateTargets: true }, webhookTransport: delivered } });
    expect((await post('/run/async', { prompt: 'x', webhook_url: 'http://127.0.0.1:9000/hook' })).statusCode).toBe(202);
  });
});
