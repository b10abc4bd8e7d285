// GET /run/stream and GET /jobs/{id}/stream: Stromboli's SSE framing over the persisted log,
// Last-Event-ID re-attach, and what a disconnect or a server close does to the run.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../../contract/store/memory-store.ts';
import { succeeded } from '../../test/helpers/agent-script.ts';
import { startTestBed } from '../../test/helpers/facade-test-bed.ts';
import type { TestBed, TestBedOptions } from '../../test/helpers/facade-test-bed.ts';
import { parseSse } from '../../test/helpers/sse.ts';

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

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await bed?.app.inject({ method: 'GET', url, headers });
  if (res === undefined) throw new Error('no test bed');
  return res;
}

async function onlyRun() {
  const runs = await store.list();
  expect(runs).toHaveLength(1);
  const run = runs[0];
  if (run === undefined) throw new Error('no run');
  return run;
}

/** Starts a real listener: disconnects and partial reads need a socket. */
async function listen(): Promise<number> {
  if (bed === undefined) throw new Error('no test bed');
  await bed.app.listen({ host: '127.0.0.1', port: 0 });
  return (bed.app.server.address() as AddressInfo).port;
}

/** Opens a stream and collects its body until `until` says enough; returns the text and a closer. */
function openStream(port: number, path: string, until: (text: string) => boolean): Promise<{ text: string; close: () => void; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (until(text)) resolve({ text, close: () => req.destroy(), ended: false });
      });
      res.on('end', () => resolve({ text, close: () => undefined, ended: true }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /run/stream', () => {
  it('streams every log line as one data frame with an id, then event: done', async () => {
    await start();
    const res = await get(`/run/stream?prompt=hello&session_id=${SESSION}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-accel-buffering']).toBe('no');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
    const run = await onlyRun();
    const name = run.metadata.name;
    expect(res.headers['x-stromboli-run-id']).toBe(name);
    const frames = parseSse(res.body);
    expect(frames.map((f) => f.id)).toEqual([`${name}:1`, `${name}:2`, `${name}:3`, undefined]);
    expect(frames.slice(0, 3).map((f) => JSON.parse(f.data ?? '').type)).toEqual(['system', 'assistant', 'result']);
    const done = frames[3];
    expect(done?.event).toBe('done');
    expect(JSON.parse(done?.data ?? '')).toEqual({ id: name, session_id: SESSION, status: 'completed', usage: expect.objectContaining({ total_tokens: 20 }) });
    expect(run.spec).toEqual({ prompt: 'hello', session: { id: SESSION }, ttlSecondsAfterFinished: 3600 });
  });

  it('resumes a session with resume=true', async () => {
    await start();
    await get(`/run/stream?prompt=again&session_id=${SESSION}&resume=true&workdir=/workspace`);
    expect((await onlyRun()).spec).toMatchObject({ workdir: '/workspace', session: { id: SESSION, resume: true } });
  });

  it('ends a crashed run with event: done, status crashed and crash_info', async () => {
    await start();
    const frames = parseSse((await get('/run/stream?prompt=x%20%5Bcrash%5D')).body);
    const done = frames.at(-1);
    expect(done?.event).toBe('done');
    expect(JSON.parse(done?.data ?? '')).toMatchObject({ status: 'crashed', crash_info: { exit_code: 139, signal: 'SIGSEGV' } });
  });

  it('ends a failed run with event: error and the execution message', async () => {
    await start();
    const frames = parseSse((await get('/run/stream?prompt=x%20%5Bfail%5D')).body);
    expect(frames.at(-1)).toEqual({ event: 'error', data: 'execution failed: MaxTurns: Reached maximum number of turns (1)' });
  });

  it('ends a cancelled run with event: error', async () => {
    const { app } = await start();
    const pending = get('/run/stream?prompt=x%20%5Bhold%5D');
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    await app.inject({ method: 'DELETE', url: `/jobs/${(await onlyRun()).metadata.name}` });
    expect(parseSse((await pending).body).at(-1)).toEqual({ event: 'error', data: 'run cancelled' });
  });

  it.each([
    ['no prompt', '/run/stream', 'Missing required parameter: prompt'],
    ['an empty prompt', '/run/stream?prompt=', 'Missing required parameter: prompt'],
    ['a bad session id', '/run/stream?prompt=x&session_id=..%2F..%2Fetc', 'Invalid request: claude.session_id: must be a UUID (the Claude CLI accepts nothing else)'],
    ['resume without a session', '/run/stream?prompt=x&resume=true', 'Invalid request: claude.resume: needs claude.session_id (the session to resume)'],
    ['a bad resume flag', '/run/stream?prompt=x&resume=maybe', 'Invalid request: resume: expected true or false'],
    ['a bad workdir', '/run/stream?prompt=x&workdir=relative', 'workdir validation failed: workdir must be an absolute path starting with /'],
  ])('answers %s with 400 text/plain before streaming', async (_case, url, message) => {
    await start();
    const res = await get(url);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe(message);
    expect(await store.list()).toHaveLength(0);
  });

  it('ends with event: error and a generic message when the log cannot be read mid-stream', async () => {
    const { logs, finish } = await start();
    const pending = get('/run/stream?prompt=x%20%5Bhold%5D');
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    const run = await onlyRun();
    logs.break(run.metadata.uid);
    const frames = parseSse((await pending).body);
    expect(frames.at(-1)).toEqual({ event: 'error', data: 'internal server error' });
    await finish(run.metadata.name, succeeded('ok'));
  });

  it('has no HEAD route: a HEAD must never start a run', async () => {
    const { app } = await start();
    expect((await app.inject({ method: 'HEAD', url: '/run/stream?prompt=x' })).statusCode).toBe(404);
    expect(await store.list()).toHaveLength(0);
  });

  it('answers 503 text/plain when Claude is not configured', async () => {
    await start({ ports: { health: { check: async () => [], claudeConfigured: async () => false } } });
    const res = await get('/run/stream?prompt=x');
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    // Stromboli's first sentence, then how credentials are given here (there is no `make claude-setup`).
    expect(res.body).toBe('Claude not configured. Start the server with --claude-credentials-file FILE, or with ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in its environment (docs/operations.md, "Credentials")');
  });

  it('re-attaches with Last-Event-ID instead of starting a second run, and replays only what was missed', async () => {
    await start();
    const first = parseSse((await get('/run/stream?prompt=hello')).body);
    const name = (await onlyRun()).metadata.name;
    const again = await get('/run/stream?prompt=hello', { 'last-event-id': `${name}:2` });
    expect(again.statusCode).toBe(200);
    const frames = parseSse(again.body);
    expect(frames.map((f) => f.id)).toEqual([`${name}:3`, undefined]);
    expect(frames[0]?.data).toBe(first[2]?.data);
    expect(frames[1]?.event).toBe('done');
    expect(await store.list()).toHaveLength(1);
  });

  it('answers 404 text/plain when Last-Event-ID names a run that is gone', async () => {
    await start();
    const res = await get('/run/stream?prompt=x', { 'last-event-id': 'run-0000000000000000:4' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toBe('job not found');
  });

  it('sends heartbeat comments while the run is quiet', async () => {
    const { finish } = await start({ family: { heartbeatMs: 20 } });
    const port = await listen();
    const stream = await openStream(port, '/run/stream?prompt=quiet%20%5Bhold%5D', (text) => text.includes(': keep-alive'));
    expect(stream.text).toContain(': keep-alive\n\n');
    await finish((await onlyRun()).metadata.name, succeeded('ok'));
    stream.close();
  });

  it('keeps the run going when the client leaves (it can re-attach later)', async () => {
    const { finish } = await start();
    const port = await listen();
    const stream = await openStream(port, '/run/stream?prompt=x%20%5Bhold%5D', (text) => text.includes('"subtype":"init"'));
    stream.close();
    const name = (await onlyRun()).metadata.name;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await onlyRun()).spec).not.toHaveProperty('cancel');
    await finish(name, succeeded('finished alone'));
    const replay = parseSse((await get(`/jobs/${name}/stream`)).body);
    expect(replay.at(-1)?.event).toBe('done');
  });

  it('cancels the run when the client leaves with cancel_on_disconnect=true (Stromboli\'s behaviour)', async () => {
    await start();
    const port = await listen();
    const stream = await openStream(port, '/run/stream?prompt=x%20%5Bhold%5D&cancel_on_disconnect=true', (text) => text.includes('"subtype":"init"'));
    stream.close();
    await expect.poll(async () => (await onlyRun()).status?.phase).toBe('Cancelled');
  });

  it('ends open streams without a final event when the server closes, and leaves the run running', async () => {
    await start();
    const port = await listen();
    const ended = openStream(port, '/run/stream?prompt=x%20%5Bhold%5D', () => false);
    await expect.poll(async () => (await store.list())[0]?.status?.phase).toBe('Running');
    await bed?.app.close();
    const stream = await ended;
    expect(stream.ended).toBe(true);
    expect(stream.text).not.toContain('event: ');
    expect((await onlyRun()).status?.phase).toBe('Running');
  });
});

describe('GET /jobs/{id}/stream', () => {
  it('replays a finished job from the start and ends with its final event', async () => {
    const { app } = await start();
    const id = (await app.inject({ method: 'POST', url: '/run/async', payload: { prompt: 'hi' } })).json().job_id as string;
    await expect.poll(async () => (await onlyRun()).status?.phase).toBe('Succeeded');
    const frames = parseSse((await get(`/jobs/${id}/stream`)).body);
    expect(frames.map((f) => f.id ?? f.event)).toEqual([`${id}:1`, `${id}:2`, `${id}:3`, 'done']);
  });

  it('continues after Last-Event-ID, as a header, a bare line number or a query parameter', async () => {
    const { app } = await start();
    const id = (await app.inject({ method: 'POST', url: '/run/async', payload: { prompt: 'hi' } })).json().job_id as string;
    await expect.poll(async () => (await onlyRun()).status?.phase).toBe('Succeeded');
    expect(parseSse((await get(`/jobs/${id}/stream`, { 'last-event-id': `${id}:2` })).body).map((f) => f.id ?? f.event)).toEqual([`${id}:3`, 'done']);
    expect(parseSse((await get(`/jobs/${id}/stream`, { 'last-event-id': '3' })).body).map((f) => f.id ?? f.event)).toEqual(['done']);
    expect(parseSse((await get(`/jobs/${id}/stream?last_event_id=1`)).body).map((f) => f.id ?? f.event)).toEqual([`${id}:2`, `${id}:3`, 'done']);
  });

  it('answers 400 for a malformed Last-Event-ID or one naming another run, 404 for an unknown job', async () => {
    const { app } = await start();
    const id = (await app.inject({ method: 'POST', url: '/run/async', payload: { prompt: 'hi' } })).json().job_id as string;
    const bad = await get(`/jobs/${id}/stream`, { 'last-event-id': 'x:y' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ id: '', status: 'error', error: 'Invalid request: Last-Event-ID must be <run>:<line> or <line>' });
    const other = await get(`/jobs/${id}/stream`, { 'last-event-id': 'run-0000000000000000:1' });
    expect(other.statusCode).toBe(400);
    const unknown = await get('/jobs/job-0000000000000000/stream');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ id: '', status: 'error', error: 'job not found' });
  });
});
