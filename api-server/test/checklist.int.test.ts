// Stromboli compatibility checklist (stromboli.md §14) against a real `stromboli serve`: the
// items the run-family and catalog suites do not already drive over HTTP. One embedded server
// (startEmbedded on 127.0.0.1:0, temp dirs, real podman, the fake Claude image as default image,
// `{ env: {} }`) serves most tests; small extra servers cover "not configured" and "auth on".
// Every container carries a server's owner label and is removed by it afterwards.
// Item numbers are §14's; docs/compatibility-checklist.md maps every item to its tests.
// Run: npx vitest run --project podman api-server/test/checklist.int.test.ts
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServeConfigSchema } from '../../cmd/config.ts';
import type { ServeConfigInput } from '../../cmd/config.ts';
import { ownerOf, startEmbedded } from '../../cmd/serve.ts';
import type { EmbeddedServer } from '../../cmd/serve.ts';
import { createLogger } from '../../controller/src/log.ts';
import { CONTAINER_HOME } from '../../controller/src/runner/podman-runner.ts';
import { Cleanup } from '../../controller/test/helpers/cleanup.ts';
import { LogLines } from '../../controller/test/helpers/embedded-server.ts';
import { Labels, ensureFakeImage, inspectContainer, listContainers, removeContainersOfOwner, runCommand } from '../../controller/test/helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../../controller/test/helpers/repo.ts';
import { createTempDirs } from '../../controller/test/helpers/temp-dirs.ts';
import type { TempDirs } from '../../controller/test/helpers/temp-dirs.ts';
import { sseEvents } from './helpers/sse.ts';
import { compact } from '../../contract/compact.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;
const PROMPT_REQUIRED = "Invalid request: Key: 'RunRequest.Prompt' Error:Field validation for 'Prompt' failed on the 'required' tag";
/** Stromboli's first sentence, then how credentials are given here (it names `make claude-setup`, which this project does not have). */
const NOT_CONFIGURED = 'Claude not configured. Start the server with --claude-credentials-file FILE, or with ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in its environment (docs/operations.md, "Credentials")';
/** Where the fake Claude CLI appends its invocation record (argv, cwd, env) inside the container: the session HOME. */
const FAKE_LOG = `${CONTAINER_HOME}/fake-claude.log`;

const cleanup = new Cleanup();
const startedAt = Date.now();

interface Started {
  server: EmbeddedServer;
  url: string;
  owner: string;
  dirs: TempDirs;
  logs: LogLines;
  /** Closes the server (idempotent; the cleanup then only removes containers). */
  close: () => Promise<void>;
}

/** startEmbedded over `dirs` (port 0, fake image, no developer environment); the cleanup closes it and removes its containers. */
async function start(dirs: TempDirs, overrides: Partial<ServeConfigInput> = {}, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const logs = new LogLines();
  const config = ServeConfigSchema.parse({
    runsDir: dirs.runsDir,
    stateDir: dirs.stateDir,
    port: 0,
    image: FAKE_IMAGE,
    containersConf: CONTAINERS_CONF,
    containerNetwork: 'none',
    pollMs: 500,
    ...overrides,
  });
  const server = await startEmbedded(config, createLogger({ level: 'info', destination: logs.stream() }), { env });
  const owner = await ownerOf(dirs.stateDir);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= server.close());
  cleanup.add(`close the server of ${dirs.stateDir} and remove its containers`, async () => {
    await close();
    await removeContainersOfOwner(owner);
  });
  return { server, url: server.url, owner, dirs, logs, close };
}

let main: Started;
let volumeRoot: string;
const mainConfig = (): Partial<ServeConfigInput> => ({
  // The fake never calls it; it makes the server "configured" without credential secrets.
  anthropicBaseUrl: 'http://127.0.0.1:9',
  auth: 'off',
  rateLimitPerMinute: 0,
  allowedVolumes: [volumeRoot],
  containerEnv: { FAKE_CLAUDE_LOG: FAKE_LOG },
});

beforeAll(async () => {
  await ensureFakeImage();
  const dirs = await createTempDirs(cleanup, 'checklist');
  volumeRoot = join(dirs.root, 'volumes');
  await mkdir(join(volumeRoot, 'data'), { recursive: true });
  main = await start(dirs, mainConfig());
});

afterAll(async () => {
  try {
    await cleanup.run();
  } finally {
    console.info(`checklist compatibility suite: ${((Date.now() - startedAt) / 1000).toFixed(1)} s wall time`);
  }
});

function api(path: string, init?: RequestInit, base = main.url): Promise<Response> {
  return fetch(new URL(path, base), init);
}

function postJson(path: string, body: unknown, options: { headers?: Record<string, string>; base?: string } = {}): Promise<Response> {
  const headers = options.headers ?? { 'content-type': 'application/json' };
  return api(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) }, options.base);
}

async function json<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

async function jobStatus(id: string): Promise<string> {
  return (await json<{ status: string }>(api(`/jobs/${id}`))).status;
}

async function jobCount(): Promise<number> {
  return (await json<{ jobs: unknown[] }>(api('/jobs'))).jobs.length;
}

interface Invocation {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  session_id: string;
}

/** The fake CLI's invocation records of one session, read from the session HOME on the host. */
async function invocations(sessionId: string): Promise<Invocation[]> {
  const text = await readFile(join(main.dirs.stateDir, 'sessions', sessionId, 'fake-claude.log'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Invocation);
}

/** The one container of a run (by its owner and name labels), once it exists. */
async function containerOf(runName: string): Promise<string> {
  let id = '';
  await expect
    .poll(
      async () => {
        const found = await listContainers({ [Labels.owner]: main.owner, [Labels.name]: runName }, { all: false });
        id = found[0]?.id ?? '';
        return id;
      },
      { timeout: 60_000, interval: 250 },
    )
    .not.toBe('');
  return id;
}

function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  const part = (text: string): Record<string, unknown> => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: part(header), payload: part(payload) };
}


describe('routing and general (items 3-6)', () => {
  it('echoes X-Request-ID, or sends a new 16-hex id, on every answer (item 3)', async () => {
    const echoed = await api('/health', { headers: { 'x-request-id': 'client-req.42' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-req.42');
    for (const res of [await api('/health'), await api('/no-such-route'), await postJson('/run', {}), await api('/jobs')]) {
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('reads a body without Content-Type and ignores unknown fields at every level (item 4)', async () => {
    const res = await postJson('/run', { prompt: 'unknown fields', no_such_field: 1, claude: { no_such_option: true }, podman: { no_such_option: 'x' } }, { headers: {} });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'completed', output: 'echo: unknown fields' });
  });

  it('answers an unknown path or method with 404 text/plain "404 page not found" (item 5)', async () => {
    for (const [method, path] of [
      ['GET', '/no-such-route'],
      ['DELETE', '/health'],
      ['PUT', '/run'],
      ['GET', '/run'],
    ] as const) {
      const res = await api(path, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe('404 page not found');
    }
  });

  it('sends no CORS headers, not even to a preflight (item 6)', async () => {
    const preflight = await api('/run', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    const simple = await api('/jobs', { headers: { origin: 'https://evil.example' } });
    for (const res of [preflight, simple]) {
      expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    }
  });
});

describe('run (items 7-19)', () => {
  it('answers an empty prompt with Gin\'s required-field message on /run and /run/async (item 7)', async () => {
    for (const path of ['/run', '/run/async']) {
      const res = await postJson(path, { prompt: '' });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ id: '', status: 'error', error: PROMPT_REQUIRED });
    }
  });

  it.each([
    ['secrets_env for LD_PRELOAD', { secrets_env: { LD_PRELOAD: 'x' } }, /^Invalid request: podman\.secrets_env/],
    ['a hooks_timeout that is no duration', { lifecycle: { hooks_timeout: 'soon' } }, /^Invalid request: podman\.lifecycle\.hooks_timeout: /],
    ['101 post_start hooks', { lifecycle: { post_start: Array.from({ length: 101 }, () => 'true') } }, /^Invalid request: podman\.lifecycle\.post_start/],
    ['an empty hook entry', { lifecycle: { on_create_command: [''] } }, /^Invalid request: podman\.lifecycle\.on_create_command/],
    ['a timeout that is no duration', { timeout: '5 minutes' }, /^Invalid request: podman\.timeout: /],
  ])('refuses %s with 400 (Stromboli: 500 from the runner), creating nothing (items 10, 23, 24 - Differs)', async (_case, podmanOptions, message) => {
    const before = await jobCount();
    const res = await postJson('/run', { prompt: 'x', podman: podmanOptions });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ id: '', status: 'error', error: expect.stringMatching(message) });
    expect(await jobCount()).toBe(before);
  });

  it('answers a run past its timeout with 200 crashed, crash_info and a "timeout:" reason (item 12 - Differs)', async () => {
    const res = await postJson('/run', { prompt: 'slow [fake:sleep=120]', podman: { timeout: '2s' } });
    expect(res.status).toBe(200);
    const body = await json<{ status: string; crash_info: { exit_code: number; reason: string } }>(res);
    expect(body.status).toBe('crashed');
    expect([137, 143]).toContain(body.crash_info.exit_code);
    expect(body.crash_info.reason).toMatch(/^timeout: /);
  });

  it('returns structured_output from a run with a JSON schema, and none without (item 13)', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const res = await postJson('/run', { prompt: 'give me structure', claude: { json_schema: JSON.stringify(schema) } });
    expect(res.status).toBe(200);
    const body = await json<{ structured_output?: unknown }>(res);
    expect(body.structured_output).toEqual({ answer: expect.any(String) });
    const plain = await json(postJson('/run', { prompt: 'no structure' }));
    expect(plain).toMatchObject({ status: 'completed' });
    expect(Object.keys(plain)).not.toContain('structured_output');
  });

  it("accepts Stromboli's permission_mode delegate and passes it to the CLI, which decides (this CLI refuses it, and says so)", async () => {
    const res = await api('/run', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'delegate please', claude: { permission_mode: 'delegate' } }) });
    const body = (await res.json()) as { status: string; error?: string };
    expect(res.status).toBe(500); // not 400: the request is valid; the CLI in the image refuses the mode
    expect(body.status).toBe('error');
    expect(body.error).toMatch(/^execution failed: .*argument 'delegate' is invalid/);
  });

  it('passes --session-id, then --resume, joined and formatted options, and env-only settings to the CLI (items 15-17, 40)', async () => {
    const first = await json<{ status: string; session_id: string }>(
      postJson('/run', {
        prompt: 'argv please',
        claude: {
          allowed_tools: ['Read', 'Grep'],
          disallowed_tools: ['Bash', 'Write'],
          setting_sources: ['user', 'project'],
          max_budget_usd: 1.5,
          max_turns: 0,
          prompt_caching_ttl: '1h',
          bedrock_service_tier: 'priority',
          enable_powershell_tool: true,
        },
      }),
    );
    expect(first.status).toBe('completed');
    expect(first.session_id).toMatch(UUID);
    const [call] = await invocations(first.session_id);
    const argv = call?.argv ?? [];
    const after = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    expect(after('--session-id')).toBe(first.session_id);
    expect(argv).not.toContain('--resume');
    expect(after('--allowedTools')).toBe('Read,Grep');
    expect(after('--disallowedTools')).toBe('Bash,Write');
    expect(after('--setting-sources')).toBe('user,project');
    expect(after('--max-budget-usd')).toBe('1.50');
    expect(after('--max-turns')).toBe('0');
    expect(argv.join(' ')).not.toMatch(/caching|bedrock|powershell/i);
    expect(call?.env).toMatchObject({ ENABLE_PROMPT_CACHING_1H: '1', ANTHROPIC_BEDROCK_SERVICE_TIER: 'priority', CLAUDE_CODE_USE_POWERSHELL_TOOL: '1' });
    expect(call?.env).not.toHaveProperty('FORCE_PROMPT_CACHING_5M');

    // The session HOME persists: resume sees the first turn (item 40), with --resume <id> (item 15).
    const second = await json<{ status: string; session_id: string; output: string }>(
      postJson('/run', { prompt: 'again', claude: { session_id: first.session_id, resume: true } }),
    );
    expect(second).toMatchObject({ status: 'completed', session_id: first.session_id, output: 'echo: again (turn 2; previous prompt: argv please)' });
    const calls = await invocations(first.session_id);
    const resumed = calls.at(-1)?.argv ?? [];
    expect(resumed[resumed.indexOf('--resume') + 1]).toBe(first.session_id);
    expect(resumed).not.toContain('--session-id');
    expect(calls.at(-1)?.env).not.toHaveProperty('ENABLE_PROMPT_CACHING_1H');
    // Another TTL is a 400 here (enums are checked up front, docs/compatibility.md), not ignored (item 17 - Differs).
    const ttl = await postJson('/run', { prompt: 'x', claude: { prompt_caching_ttl: '10m' } });
    expect(ttl.status).toBe(400);
    expect(await ttl.json()).toEqual({ id: '', status: 'error', error: expect.stringMatching(/^Invalid request: claude\.prompt_caching_ttl: /) });

    // Paging defaults, invalid values ignored (item 38).
    const page = await json(api(`/sessions/${first.session_id}/messages?offset=abc&limit=-3`));
    expect(page).toMatchObject({ offset: 0, limit: 50, has_more: false });
  });

  it('applies memory 512m, cpus 1 and the 30m timeout by default, does not cap request values, and injects secrets_env as podman secrets (items 18, 23)', async () => {
    const secretName = `strom-checklist-${randomBytes(4).toString('hex')}`;
    const secretValue = `v-${randomBytes(16).toString('hex')}`;
    cleanup.add(`remove podman secret ${secretName}`, async () => {
      await runCommand('podman', ['secret', 'rm', secretName]);
    });
    expect((await postJson('/secrets', { name: secretName, value: secretValue })).status).toBe(201);

    const defaults = await json<{ job_id: string }>(postJson('/run/async', { prompt: 'defaults [fake:sleep=120]', podman: { secrets_env: { GH_TOKEN: secretName } } }));
    const big = await json<{ job_id: string }>(postJson('/run/async', { prompt: 'big [fake:sleep=120]', podman: { memory: '64g', timeout: '100h' } }));
    try {
      const defaultsInfo = await inspectContainer(await containerOf(defaults.job_id));
      const host = defaultsInfo?.['HostConfig'] as Record<string, unknown>;
      expect(host['Memory']).toBe(512 * 1024 * 1024);
      expect(host['NanoCpus']).toBe(1_000_000_000);
      const config = defaultsInfo?.['Config'] as { Timeout?: number };
      // podman's --timeout backstop is the 30 min deadline plus the stop grace.
      expect(config.Timeout).toBeGreaterThanOrEqual(30 * 60);
      expect(config.Timeout).toBeLessThan(31 * 60);
      // An env-type podman secret, by name: the value is never in the podman argv. The CLI path
      // records its argv (CreateCommand, with the --secret spec); the REST path records none (its
      // create body names the secret in secret_env: podman/create-body.test.ts), and podman shows
      // the variable it injected in the running container's environment.
      const created = defaultsInfo?.['Config'] as { CreateCommand?: string[]; Env?: string[] };
      const createCommand = created.CreateCommand ?? [];
      if (createCommand.length > 0) expect(createCommand).toContain(`${secretName},type=env,target=GH_TOKEN`);
      else expect(created.Env ?? []).toContain(`GH_TOKEN=${secretValue}`);
      expect(createCommand.join(' ')).not.toContain(secretValue);

      const bigInfo = await inspectContainer(await containerOf(big.job_id));
      expect((bigInfo?.['HostConfig'] as Record<string, unknown>)['Memory']).toBe(64 * 1024 * 1024 * 1024);
      expect((bigInfo?.['Config'] as { Timeout?: number }).Timeout).toBeGreaterThanOrEqual(100 * 3600);
    } finally {
      for (const id of [defaults.job_id, big.job_id]) await api(`/jobs/${id}`, { method: 'DELETE' });
    }
  });

  it('creates a missing workdir in the session HOME and runs there, and refuses one podman cannot create (item 19 - Differs)', async () => {
    const res = await json<{ status: string; session_id: string }>(postJson('/run', { prompt: 'where am I', workdir: `${CONTAINER_HOME}/deep/new/dir` }));
    expect(res.status).toBe('completed');
    expect((await invocations(res.session_id)).at(-1)?.cwd).toBe(`${CONTAINER_HOME}/deep/new/dir`);
    // Only /workspace itself, the HOME or a mounted volume (docs/critiques.md): no `mkdir -p` wrapper in the image.
    const refused = await postJson('/run', { prompt: 'x', workdir: '/workspace/deep/new/dir' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ status: 'error', error: expect.stringMatching(/^workdir validation failed: /) });
  });
});

describe('validation (items 20-22)', () => {
  it('mounts a volume below an allowlist entry and refuses one outside, through a symlink, onto a blocked target or with a bad option (items 20-21)', async () => {
    const inside = join(volumeRoot, 'data');
    const ok = await postJson('/run', { prompt: 'with a volume', podman: { volumes: [`${inside}:/data:ro`] } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'completed' });

    const escape = join(volumeRoot, 'escape');
    await symlink('/etc', escape);
    for (const volume of ['/etc:/data:ro', `${escape}:/data:ro`, `${inside}:/etc`, `${inside}:/data:exec`]) {
      const res = await postJson('/run', { prompt: 'x', podman: { volumes: [volume] } });
      expect(res.status, volume).toBe(400);
      expect(await res.json(), volume).toMatchObject({ status: 'error', error: expect.stringMatching(/^volume validation failed: /) });
    }
  });

  it('allows any image when no image allowlist is configured (item 22)', async () => {
    const res = await postJson('/run', { prompt: 'named image', podman: { image: 'localhost/stromboli/fake-claude' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'completed', output: 'echo: named image' });
  });
});

describe('async jobs (items 25, 27, 30)', () => {
  it('reports a request problem found by the controller as a failed job, with Stromboli\'s prefix (item 25)', async () => {
    const res = await postJson('/run/async', { prompt: 'x', podman: { volumes: ['/etc:/data:ro'] } });
    expect(res.status).toBe(202);
    const { job_id: id } = await json<{ job_id: string }>(res);
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('failed');
    expect(await json(api(`/jobs/${id}`))).toMatchObject({ id, status: 'failed', error: expect.stringMatching(/^volume validation failed: /) });
  });

  it('shows a job with Stromboli\'s fields and statuses from submit to completion (item 27)', async () => {
    const { job_id: id } = await json<{ job_id: string }>(postJson('/run/async', { prompt: 'fields' }));
    const early = await json<{ status: string; created_at: string; updated_at: string }>(api(`/jobs/${id}`));
    expect(['pending', 'running']).toContain(early.status);
    expect(early.created_at).toMatch(RFC3339_SECONDS);
    expect(early.updated_at).toMatch(RFC3339_SECONDS);
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('completed');
    const done = await json(api(`/jobs/${id}`));
    const allowed = ['id', 'status', 'output', 'structured_output', 'error', 'session_id', 'crash_info', 'created_at', 'updated_at', 'usage'];
    expect(Object.keys(done).filter((k) => !allowed.includes(k))).toEqual([]);
    expect(done).toMatchObject({ id, status: 'completed', output: 'echo: fields', session_id: expect.stringMatching(UUID) });
    expect(String(done['updated_at'])).toMatch(RFC3339_SECONDS);
  });

  it('keeps the one-hour TTL on API runs (item 30)', async () => {
    const { job_id: id } = await json<{ job_id: string }>(postJson('/run/async', { prompt: 'ttl' }));
    const resource = await json<{ spec: { ttlSecondsAfterFinished?: number } }>(api(`/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/${id}`));
    expect(resource.spec.ttlSecondsAfterFinished).toBe(3600);
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('completed');
  });
});

describe('streaming (items 33-35)', () => {
  it('sends X-Accel-Buffering: no, and ends a failed run with event: error and status 200 (items 33-34)', async () => {
    const res = await api('/run/stream?prompt=' + encodeURIComponent('overloaded [fake:api-error]'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const last = sseEvents(await res.text()).at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toMatch(/^execution failed: /);
  });

  it('ends a crashed run with event: done carrying status crashed and crash_info (item 34)', async () => {
    const res = await api('/run/stream?prompt=' + encodeURIComponent('boom [fake:crash]'));
    const last = sseEvents(await res.text()).at(-1);
    expect(last?.event).toBe('done');
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ status: 'crashed', session_id: expect.stringMatching(UUID), crash_info: { exit_code: 139 } });
  });

  it('keeps the run going when the client leaves, and cancels it with cancel_on_disconnect=true (item 35 - Differs)', async () => {
    const leave = async (query: string): Promise<string> => {
      const controller = new AbortController();
      const res = await api(`/run/stream?prompt=${encodeURIComponent('long [fake:sleep=120]')}${query}`, { signal: controller.signal });
      const id = res.headers.get('x-stromboli-run-id') ?? '';
      expect(id).toMatch(/^run-[0-9a-f]{16}$/);
      await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('running');
      controller.abort();
      await res.body?.cancel().catch(() => undefined);
      return id;
    };
    const kept = await leave('');
    const cancelled = await leave('&cancel_on_disconnect=true');
    await expect.poll(() => jobStatus(cancelled), { timeout: 30_000, interval: 250 }).toBe('cancelled');
    expect(await jobStatus(kept)).toBe('running');
    expect((await api(`/jobs/${kept}`, { method: 'DELETE' })).status).toBe(200);
  });
});

describe('images and auth on the main server (items 43, 50)', () => {
  it('answers /images/search without q with 400 (item 43)', async () => {
    const res = await api('/images/search');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "query parameter 'q' is required" });
  });

  it('answers every auth endpoint with 503 "JWT authentication not configured" without a JWT secret (item 50)', async () => {
    for (const [method, path, body] of [
      ['POST', '/auth/token', { client_id: 'x' }],
      ['POST', '/auth/refresh', { refresh_token: 'x' }],
      ['GET', '/auth/validate', undefined],
      ['POST', '/auth/logout', undefined],
    ] as const) {
      const headers: Record<string, string> = { authorization: 'Bearer x', ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
      const res = await api(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      expect(res.status, path).toBe(503);
      expect(await res.json()).toEqual({ error: 'JWT authentication not configured' });
    }
  });
});

describe('a server without Claude credentials (items 1, 9, 29, 32)', () => {
  it('is degraded but 200, lists no jobs as [], and answers runs 503 after the body check', async () => {
    const bare = await start(await createTempDirs(cleanup, 'checklist-bare'), { auth: 'off', rateLimitPerMinute: 0 });
    const health = await api('/health', undefined, bare.url);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'degraded', name: 'stromboli', components: expect.arrayContaining([expect.objectContaining({ status: 'error' })]) });
    expect(await json(api('/jobs', undefined, bare.url))).toEqual({ jobs: [] });

    for (const path of ['/run', '/run/async']) {
      const res = await postJson(path, { prompt: 'x' }, { base: bare.url });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ id: '', status: 'error', error: NOT_CONFIGURED });
      const bad = await postJson(path, '{"prompt":', { base: bare.url });
      expect(bad.status).toBe(400);
    }
    const stream = await api('/run/stream?prompt=x', undefined, bare.url);
    expect(stream.status).toBe(503);
    expect(stream.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await stream.text()).toBe(NOT_CONFIGURED);
    const missing = await api('/run/stream', undefined, bare.url);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toBe('Missing required parameter: prompt');
    expect(await json(api('/jobs', undefined, bare.url))).toEqual({ jobs: [] });
  });
});

describe('a server with a JWT secret and an API token (items 44-47)', () => {
  it('checks the header format, accepts the API token, issues HS256 pairs, and refuses an access token as a refresh token', async () => {
    const secret = randomBytes(36).toString('base64url');
    const apiToken = `tok-${randomBytes(16).toString('hex')}`;
    const authed = await start(await createTempDirs(cleanup, 'checklist-auth'), { rateLimitPerMinute: 0 }, { STROMBOLI_JWT_SECRET: secret, STROMBOLI_API_TOKENS: apiToken });
    const get = (path: string, authorization?: string): Promise<Response> => api(path, authorization === undefined ? undefined : { headers: { authorization } }, authed.url);
    const post = (path: string, body: unknown, authorization?: string): Promise<Response> =>
      postJson(path, body, { base: authed.url, headers: { 'content-type': 'application/json', ...compact({ authorization }) } });

    expect(await json(get('/jobs'))).toEqual({ error: 'missing authorization header' });
    for (const header of ['Basic dXNlcjpwYXNz', 'Token abc']) {
      const res = await get('/jobs', header);
      expect(res.status, header).toBe(401);
      expect(await res.json()).toEqual({ error: 'invalid authorization header format' });
    }
    expect(await json(get('/jobs', 'Bearer not.a.jwt'))).toEqual({ error: 'invalid or expired token' });
    // Item 45: the static API token works wherever a JWT does, /auth/token included.
    expect((await get('/jobs', `Bearer ${apiToken}`)).status).toBe(200);
    expect((await post('/auth/token', { client_id: 'checklist' })).status).toBe(401);

    const issued = await post('/auth/token', { client_id: 'checklist' }, `Bearer ${apiToken}`);
    expect(issued.status).toBe(200);
    const pair = await json<{ access_token: string; refresh_token: string; token_type: string; expires_in: number }>(issued);
    expect(pair).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'bearer', expires_in: 86400 });
    const access = decodeJwt(pair.access_token);
    expect(access.header).toMatchObject({ alg: 'HS256' });
    expect(access.payload).toMatchObject({ sub: 'checklist', iat: expect.any(Number), exp: expect.any(Number), jti: expect.any(String) });
    expect(Number(access.payload['exp']) - Number(access.payload['iat'])).toBe(86400);
    expect(access.payload['is_refresh']).not.toBe(true);
    expect(decodeJwt(pair.refresh_token).payload).toMatchObject({ sub: 'checklist', is_refresh: true });
    expect((await get('/jobs', `Bearer ${pair.access_token}`)).status).toBe(200);

    const wrongKind = await post('/auth/refresh', { refresh_token: pair.access_token });
    expect(wrongKind.status).toBe(401);
    expect(await wrongKind.json()).toEqual({ error: 'invalid or expired refresh token' });
    expect(authed.logs.tail(10_000)).not.toContain(secret);
    expect(authed.logs.tail(10_000)).not.toContain(apiToken);
  });
});

describe('restart (item 30 - Differs)', () => {
  it('keeps finished jobs across a restart of the server', async () => {
    const { job_id: id } = await json<{ job_id: string }>(postJson('/run/async', { prompt: 'survive' }));
    await expect.poll(() => jobStatus(id), { timeout: 60_000, interval: 250 }).toBe('completed');
    await main.close();
    main = await start(main.dirs, mainConfig());
    expect(await json(api(`/jobs/${id}`))).toMatchObject({ id, status: 'completed', output: 'echo: survive' });
  });
});
