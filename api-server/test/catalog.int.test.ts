// The catalog and auth endpoints against a real `stromboli serve` (startEmbedded on 127.0.0.1:0,
// temp dirs, real podman): /health, /claude/status, podman secrets (created and removed for
// real), the local image list, sessions written by the fake Claude image through a real run,
// JWT auth with revocations that survive a restart, and the rate limiter.
// Run: npx vitest run --project podman api-server/test/catalog.int.test.ts
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../cmd/cli/client.ts';
import { main } from '../../cmd/stromboli.ts';
import { ServeConfigSchema } from '../../cmd/config.ts';
import { startEmbedded } from '../../cmd/serve.ts';
import { createLogger } from '../../controller/src/log.ts';
import { credentialSecretNames } from '../../controller/src/runner/credentials.ts';
import { Cleanup } from '../../controller/test/helpers/cleanup.ts';
import { startTestServer } from '../../controller/test/helpers/embedded-server.ts';
import type { TestServer } from '../../controller/test/helpers/embedded-server.ts';
import { ensureFakeImage, podman, runCommand } from '../../controller/test/helpers/podman.ts';
import { FAKE_IMAGE } from '../../controller/test/helpers/repo.ts';
import { agentRun, storeReader, waitForPhase, waitForRun, writeManifest } from '../../controller/test/helpers/runs.ts';
import { createTempDirs } from '../../controller/test/helpers/temp-dirs.ts';
import type { TempDirs } from '../../controller/test/helpers/temp-dirs.ts';
import { compact } from '../../contract/compact.ts';

const cleanup = new Cleanup();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

async function call(base: string, method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(new URL(path, base), {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: <T>() => JSON.parse(text) as T };
}

/** A file only the owner can read, holding `content`. */
async function secretFile(dirs: TempDirs, name: string, content: string): Promise<string> {
  const path = join(dirs.root, name);
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

describe('GET /health and /claude/status', () => {
  it('answers 200 with podman and credentials components, needs no token, and is never rate-limited', async () => {
    const dirs = await createTempDirs(cleanup, 'health');
    const ts = await startTestServer(cleanup, dirs, { anthropicBaseUrl: 'http://127.0.0.1:9/', rateLimitPerMinute: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await call(ts.url, 'GET', '/health');
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({
        status: 'ok',
        name: 'stromboli',
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        api_version: '0.5.7',
        components: [
          { name: 'podman', status: 'ok' },
          { name: 'claude-credentials-secret', status: 'ok' },
        ],
      });
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
    const status = await call(ts.url, 'GET', '/claude/status');
    expect(status.json()).toEqual({ configured: true, message: 'Claude is configured' });
  });

  it('says on 127.0.0.1 without credentials that the API runs without authentication', async () => {
    const dirs = await createTempDirs(cleanup, 'noauth');
    const ts = await startTestServer(cleanup, dirs);
    expect(ts.logs.lines.some((l) => l['level'] === 40 && String(l['msg']).startsWith('authentication disabled'))).toBe(true);
    expect(ts.logs.withMessage('stromboli serving')[0]).toMatchObject({ auth: false });
    expect((await call(ts.url, 'GET', '/metrics')).status).toBe(404);
    const doc = await call(ts.url, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.json<{ paths: Record<string, unknown> }>().paths)).toEqual(expect.arrayContaining(['/health', '/sessions', '/secrets', '/images', '/auth/token']));
  });
});

describe('secrets over real podman secrets', () => {
  it('creates, lists, reads, refuses a duplicate and deletes, never returning the value', async () => {
    const dirs = await createTempDirs(cleanup, 'secrets');
    const ts = await startTestServer(cleanup, dirs);
    const name = `strom-int-${randomBytes(4).toString('hex')}`;
    const value = `v-${randomBytes(16).toString('hex')}`;
    cleanup.add(`remove podman secret ${name}`, async () => {
      await runCommand('podman', ['secret', 'rm', name]);
    });

    const created = await call(ts.url, 'POST', '/secrets', { body: { name, value } });
    expect(created.status).toBe(201);
    expect(created.json()).toEqual({ success: true, name });
    expect(await podman(['secret', 'ls', '--format', '{{.Name}}'])).toContain(name);

    const list = await call(ts.url, 'GET', '/secrets');
    expect(list.status).toBe(200);
    const mine = list.json<{ secrets: Array<{ id: string; name: string; created_at: string }> }>().secrets.find((s) => s.name === name);
    expect(mine).toEqual({ id: expect.stringMatching(/^[0-9a-f]+$/), name, created_at: expect.any(String) });

    const one = await call(ts.url, 'GET', `/secrets/${name}`);
    expect(one.json()).toEqual(mine);
    // A client of Stromboli 0.3/0.4 asks for its shape: the names alone.
    const names = await call(ts.url, 'GET', '/secrets', { headers: { 'x-stromboli-api-version': '0.3.0-alpha' } });
    expect(names.json<{ secrets: unknown[] }>().secrets).toContain(name);
    expect(names.json<{ secrets: unknown[] }>().secrets.every((entry) => typeof entry === 'string')).toBe(true);

    const again = await call(ts.url, 'POST', '/secrets', { body: { name, value: 'something-else' } });
    expect(again.status).toBe(409);
    expect(again.json()).toEqual({ success: false, name, error: 'secret already exists' });

    for (const res of [created, list, one, again]) expect(res.text).not.toContain(value);
    expect(ts.logs.tail(10_000)).not.toContain(value);

    const deleted = await call(ts.url, 'DELETE', `/secrets/${name}`);
    expect(deleted.json()).toEqual({ success: true, name });
    expect(await podman(['secret', 'ls', '--format', '{{.Name}}'])).not.toContain(name);
    expect((await call(ts.url, 'DELETE', `/secrets/${name}`)).json()).toEqual({ success: false, name, error: 'secret not found' });
    expect((await call(ts.url, 'GET', `/secrets/${name}`)).status).toBe(404);
  });

  it("refuses to delete the server's own credential secrets", async () => {
    const dirs = await createTempDirs(cleanup, 'reserved');
    const ts = await startTestServer(cleanup, dirs);
    for (const name of Object.values(credentialSecretNames(ts.owner))) {
      const res = await call(ts.url, 'DELETE', `/secrets/${name}`);
      expect(res.status).toBe(403);
      expect(res.json<{ success: boolean }>().success).toBe(false);
      expect((await call(ts.url, 'POST', '/secrets', { body: { name, value: 'not-a-real-key-0123' } })).status).toBe(403);
    }
  });
});

describe('images', () => {
  it('lists the local images once per name, the fake Claude image among them, and shows one by name', async () => {
    const dirs = await createTempDirs(cleanup, 'images');
    // A second tag of the fake image, made (and removed) by this test: podman then reports the image once per tag.
    const extraTag = `localhost/stromboli/fake-claude:catalog-${randomBytes(4).toString('hex')}`;
    await runCommand('podman', ['tag', FAKE_IMAGE, extraTag]);
    cleanup.add(`untag ${extraTag}`, async () => {
      await runCommand('podman', ['untag', extraTag, extraTag]); // that name only: without one, untag removes every name of the image
    });
    const ts = await startTestServer(cleanup, dirs);
    const res = await call(ts.url, 'GET', '/images');
    expect(res.status).toBe(200);
    const images = res.json<{ images: Array<Record<string, unknown>> }>().images;
    const fake = images.find((i) => `${String(i['repository'])}:${String(i['tag'])}` === FAKE_IMAGE);
    // The test server's default image is the fake: the configured agent image ranks 1.
    expect(fake).toMatchObject({ compatibility_rank: 1, compatible: true, has_claude_cli: true, size: expect.any(Number), created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    const ranks = images.map((i) => Number(i['compatibility_rank']));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const names = images.map((i) => `${String(i['repository'])}:${String(i['tag'])}`);
    expect(names.filter((name) => name === extraTag || name === FAKE_IMAGE)).toHaveLength(2);
    expect(names).toEqual([...new Set(names)]);

    const one = await call(ts.url, 'GET', `/images/${encodeURIComponent(FAKE_IMAGE)}`);
    expect(one.status).toBe(200);
    expect(one.json()).toMatchObject({ repository: 'localhost/stromboli/fake-claude', tag: 'latest', rank_description: 'Stromboli agent image: the Claude Code CLI is installed' });
    expect((await call(ts.url, 'GET', '/images/no-such-image-here')).json()).toEqual({ error: 'image not found' });
    expect((await call(ts.url, 'GET', '/images/search?q=node')).status).toBe(503);
    expect((await call(ts.url, 'POST', '/images/pull', { body: { image: 'registry.example/library/node:22' } })).status).toBe(503);
  });
});

describe('sessions written by a real run of the fake Claude image', () => {
  async function runOnce(ts: TestServer, dirs: TempDirs, name: string, prompt: string, session?: Record<string, unknown>): Promise<string> {
    await writeManifest(dirs.runsDir, `${name}.yaml`, agentRun(name, { prompt, ...compact({ session }) }));
    const run = await waitForPhase(storeReader(ts.get, name), 'Succeeded', 'Succeeded');
    const sessionId = run.status?.sessionId;
    if (sessionId === undefined) throw new Error('the run recorded no session id');
    return sessionId;
  }

  it('lists the session, pages its messages from the JSONL, finds one by uuid, then deletes it', async () => {
    const dirs = await createTempDirs(cleanup, 'sessions');
    const ts = await startTestServer(cleanup, dirs);
    const prompt = 'Say hello to the catalog suite.';
    const sessionId = await runOnce(ts, dirs, 'hello', prompt);
    expect(sessionId).toMatch(UUID);
    await runOnce(ts, dirs, 'again', 'And once more.', { id: sessionId, resume: true });

    const list = await call(ts.url, 'GET', '/sessions');
    expect(list.json<{ sessions: Array<{ id: string; title: string }> }>().sessions).toContainEqual({ id: sessionId, title: expect.any(String) });
    const ids = await call(ts.url, 'GET', '/sessions', { headers: { 'x-stromboli-api-version': '0.4' } });
    expect(ids.json()).toEqual({ sessions: list.json<{ sessions: Array<{ id: string }> }>().sessions.map((session) => session.id) });

    const page = await call(ts.url, 'GET', `/sessions/${sessionId}/messages?limit=1000`);
    expect(page.status).toBe(200);
    const body = page.json<{ messages: Array<Record<string, unknown>>; total: number; offset: number; limit: number; has_more: boolean }>();
    expect(body).toMatchObject({ offset: 0, limit: 200, has_more: false });
    expect(body.total).toBe(body.messages.length);
    const users = body.messages.filter((m) => m['type'] === 'user');
    const assistants = body.messages.filter((m) => m['type'] === 'assistant');
    expect(users[0]).toMatchObject({ session_id: sessionId, content: { role: 'user', content: [{ type: 'text', text: prompt }] } });
    expect(JSON.stringify(assistants)).toContain(`echo: ${prompt}`);
    expect(body.messages.some((m) => m['type'] === 'queue-operation')).toBe(false);

    const small = await call(ts.url, 'GET', `/sessions/${sessionId}/messages?offset=1&limit=1`);
    expect(small.json()).toMatchObject({ total: body.total, offset: 1, limit: 1, has_more: body.total > 2, messages: [body.messages[1]] });

    const uuid = String(assistants[0]?.['uuid']);
    const one = await call(ts.url, 'GET', `/sessions/${sessionId}/messages/${uuid}`);
    expect(one.json()).toEqual({ message: assistants[0] });
    expect((await call(ts.url, 'GET', `/sessions/${sessionId}/messages/nope`)).json()).toEqual({ error: 'message not found: nope' });

    const deleted = await call(ts.url, 'DELETE', `/sessions/${sessionId}`);
    expect(deleted.json()).toEqual({ success: true, session_id: sessionId });
    expect((await call(ts.url, 'DELETE', `/sessions/${sessionId}`)).json()).toEqual({ success: false, error: `session not found: ${sessionId}` });
    expect((await call(ts.url, 'GET', `/sessions/${sessionId}/messages`)).json()).toEqual({ error: `session history not found: ${sessionId}` });
    expect((await call(ts.url, 'DELETE', '/sessions/..%2F..%2Fstate')).json()).toEqual({ success: false, error: 'invalid session ID' });
    // A well-formed id that cannot be a session here (not a UUID) is unknown, as in Stromboli: 404.
    const unknown = await call(ts.url, 'DELETE', '/sessions/not-a-session');
    expect([unknown.status, unknown.json()]).toEqual([404, { success: false, error: 'session not found: not-a-session' }]);
    const noHistory = await call(ts.url, 'GET', '/sessions/not-a-session/messages');
    expect([noHistory.status, noHistory.json()]).toEqual([404, { error: 'session history not found: not-a-session' }]);
  });

  it('refuses to delete a session while its run is still going', async () => {
    const dirs = await createTempDirs(cleanup, 'busy');
    const ts = await startTestServer(cleanup, dirs);
    await writeManifest(dirs.runsDir, 'slow.yaml', agentRun('slow', { prompt: '[fake:sleep=60] take your time' }));
    const running = await waitForRun(storeReader(ts.get, 'slow'), 'running with a session', (r) => r?.status?.phase === 'Running' && r.status.sessionId !== undefined);
    const sessionId = running?.status?.sessionId ?? '';
    const res = await call(ts.url, 'DELETE', `/sessions/${sessionId}`);
    expect(res.status).toBe(409);
    expect(res.json()).toEqual({ success: false, session_id: sessionId, error: 'session is in use by a run that has not finished' });
  });
});

describe('auth', () => {
  const JWT_SECRET = randomBytes(32).toString('base64');
  const API_TOKEN = `tok-${randomBytes(16).toString('hex')}`;

  it('protects the API with a JWT secret and a token file; a logged-out token stays revoked after a restart', async () => {
    const dirs = await createTempDirs(cleanup, 'auth');
    const overrides = {
      jwtSecretFile: await secretFile(dirs, 'jwt.secret', `${JWT_SECRET}\n`),
      apiTokenFile: await secretFile(dirs, 'tokens', `# ci\n${API_TOKEN}\n`),
    };
    const ts = await startTestServer(cleanup, dirs, overrides);
    expect(ts.logs.withMessage('stromboli serving')[0]).toMatchObject({ auth: true, authSources: ['jwt-secret-file', 'api-token-file'] });
    expect(ts.logs.tail(10_000)).not.toContain(JWT_SECRET);

    expect((await call(ts.url, 'GET', '/sessions')).json()).toEqual({ error: 'missing authorization header' });
    expect((await call(ts.url, 'GET', '/sessions', { token: 'wrong' })).json()).toEqual({ error: 'invalid or expired token' });
    expect((await call(ts.url, 'GET', '/sessions', { token: API_TOKEN })).status).toBe(200);
    expect((await call(ts.url, 'GET', '/health')).status).toBe(200);
    expect((await call(ts.url, 'POST', '/auth/token', { body: { client_id: 'int' } })).status).toBe(401);

    const tokens = (await call(ts.url, 'POST', '/auth/token', { body: { client_id: 'int' }, token: API_TOKEN })).json<{ access_token: string; refresh_token: string }>();
    expect((await call(ts.url, 'GET', '/auth/validate', { token: tokens.access_token })).json()).toMatchObject({ valid: true, subject: 'int' });
    expect((await call(ts.url, 'GET', '/images', { token: tokens.access_token })).status).toBe(200);
    expect((await call(ts.url, 'POST', '/auth/logout', { token: tokens.access_token })).json()).toEqual({ success: true, message: 'token invalidated' });
    expect((await call(ts.url, 'GET', '/images', { token: tokens.access_token })).json()).toEqual({ error: 'token revoked' });

    await ts.close();
    const restarted = await startTestServer(cleanup, dirs, overrides);
    expect((await call(restarted.url, 'GET', '/images', { token: tokens.access_token })).json()).toEqual({ error: 'token revoked' });
    const fresh = (await call(restarted.url, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).json<{ access_token: string }>();
    expect((await call(restarted.url, 'GET', '/images', { token: fresh.access_token })).status).toBe(200);
  });

  it('refuses to start on a non-loopback address without credentials, and with a weak JWT secret', async () => {
    const dirs = await createTempDirs(cleanup, 'refuse');
    const log = createLogger({ level: 'silent' });
    const base = { runsDir: dirs.runsDir, stateDir: dirs.stateDir, port: 0, image: FAKE_IMAGE };
    await expect(startEmbedded(ServeConfigSchema.parse({ ...base, host: '0.0.0.0' }), log, { env: {} })).rejects.toThrow(/auth is enabled because 0.0.0.0 is not a loopback address/);
    await expect(startEmbedded(ServeConfigSchema.parse({ ...base, host: '0.0.0.0' }), log, { env: { STROMBOLI_JWT_SECRET: 'change-me' } })).rejects.toThrow(/JWT secret is a known placeholder value/);
    await expect(startEmbedded(ServeConfigSchema.parse({ ...base, jwtSecretFile: await secretFile(dirs, 'short', 'too-short') }), log, { env: {} })).rejects.toThrow(/shorter than 32 characters/);
  });

  it('`stromboli serve` refuses a secret on the command line without echoing it', async () => {
    const secret = 'this-must-never-be-echoed-0123456789';
    for (const argv of [['serve', `--jwt-secret=${secret}`], ['serve', '--jwt-secret', secret], ['serve', `--api-token=${secret}`]]) {
      let error: unknown;
      try {
        await main(argv, () => undefined);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as Error).message).toMatch(/secrets never go on the command line/);
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe('metrics', () => {
  it('serves /metrics on its own listener only, with the loop, the runs, tokens and cost', async () => {
    const dirs = await createTempDirs(cleanup, 'metrics');
    const ts = await startTestServer(cleanup, dirs, { metricsAddress: '127.0.0.1:0' });
    const url = String(ts.logs.withMessage('metrics serving')[0]?.['url']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await writeManifest(dirs.runsDir, 'counted.yaml', agentRun('counted', { prompt: 'Count me.' }));
    const run = await waitForPhase(storeReader(ts.get, 'counted'), 'Succeeded', 'Succeeded');
    await call(ts.url, 'GET', '/images');
    const scrape = await fetch(url);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toMatch(/^workqueue_depth\{name="agentrun"\} \d+$/m);
    expect(text).toMatch(/^controller_runtime_reconcile_total\{controller="agentrun",result="success"\} [1-9]\d*$/m);
    expect(text).toMatch(/^controller_runtime_reconcile_time_seconds_count\{controller="agentrun"\} [1-9]\d*$/m);
    expect(text).toMatch(/^workqueue_queue_duration_seconds_count\{name="agentrun"\} [1-9]\d*$/m);
    expect(text).toContain('stromboli_agentrun_transitions_total{namespace="default",phase="Succeeded",reason="Succeeded"} 1');
    // The fake CLI reports usage and a model in its result event: counted once, when the run ended.
    const model = run.status?.usage?.model ?? 'unknown';
    expect(text).toContain(`stromboli_tokens_total{namespace="default",model="${model}",kind="output"} ${run.status?.usage?.outputTokens ?? -1}`);
    expect(text).toContain('http_requests_total{method="GET",route="/images",status="200"} 1');
    expect((await call(ts.url, 'GET', '/metrics')).status).toBe(404);
  });
});

describe('rate limiting', () => {
  it('answers 429 {"error":"rate limit exceeded"} past the per-client limit, with the X-RateLimit headers', async () => {
    const dirs = await createTempDirs(cleanup, 'ratelimit');
    const ts = await startTestServer(cleanup, dirs, { rateLimitPerMinute: 2 });
    const first = await call(ts.url, 'GET', '/images');
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await call(ts.url, 'GET', '/sessions');
    const limited = await call(ts.url, 'GET', '/secrets');
    expect(limited.status).toBe(429);
    expect(limited.json()).toEqual({ error: 'rate limit exceeded' });
    expect((await call(ts.url, 'GET', '/health')).status).toBe(200);
  });
});
