// Integration tests for the test agent image localhost/stromboli/fake-claude:latest
// (images/fake-claude): built with images/fake-claude/build.sh, run with real podman the way the
// controller runs agents (non-root, all capabilities dropped, HOME bind-mounted from the host,
// -w /workspace). Asserts the claude-cli.md behaviour the controller relies on: events, exit
// codes, session files, resume, structured output, signals and JSON escaping.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compact } from '../../../contract/compact.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const IMAGE = 'localhost/stromboli/fake-claude:latest';
const BUILD_SCRIPT = join(repoRoot, 'images/fake-claude/build.sh');
const podmanEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CONTAINERS_CONF: process.env['CONTAINERS_CONF'] ?? join(repoRoot, 'config/containers.conf'),
};
const isRoot = process.getuid?.() === 0;
const AGENT_UID = 1000;

// ---------------------------------------------------------------------------------------------
// JSON helpers (no `any`: JSON.parse results are narrowed from unknown)
// ---------------------------------------------------------------------------------------------
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function obj(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} is not a JSON object: ${JSON.stringify(value)}`);
  return value;
}
function arr(value: unknown, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a JSON array: ${JSON.stringify(value)}`);
  return value as Json[];
}
function str(o: JsonObject, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`${key} is not a string in ${JSON.stringify(o)}`);
  return v;
}
function num(o: JsonObject, key: string): number {
  const v = o[key];
  if (typeof v !== 'number') throw new Error(`${key} is not a number in ${JSON.stringify(o)}`);
  return v;
}
function parseJson(text: string): unknown {
  return JSON.parse(text) as unknown;
}
function parseLines(text: string): JsonObject[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, i) => obj(parseJson(line), `line ${i + 1}`));
}
function byType(events: readonly JsonObject[], type: string): JsonObject[] {
  return events.filter((e) => e['type'] === type);
}
function only(events: readonly JsonObject[], type: string): JsonObject {
  const found = byType(events, type);
  expect(found, `exactly one ${type} event`).toHaveLength(1);
  const first = found[0];
  if (first === undefined) throw new Error(`no ${type} event`);
  return first;
}
/** The text of the first content block of an assistant event. */
function assistantText(event: JsonObject): string {
  const message = obj(event['message'], 'assistant.message');
  const block = obj(arr(message['content'], 'content')[0], 'content[0]');
  return str(block, 'text');
}

/** Usage the fake derives from the prompt: tokens scale with its UTF-8 byte length L. */
function expectedUsage(prompt: string, calls = 1): Record<string, number> {
  const l = Buffer.byteLength(prompt, 'utf8');
  return {
    input_tokens: calls * l,
    output_tokens: calls * 2 * l,
    cache_creation_input_tokens: calls * 3 * l,
    cache_read_input_tokens: calls * 4 * l,
  };
}
/** total_cost_usd: 0.0001 USD per prompt byte per model call, cumulative over a session. */
function expectedCost(...prompts: readonly string[]): number {
  const micro = prompts.reduce((sum, p) => sum + 100 * Buffer.byteLength(p, 'utf8'), 0);
  return micro / 1_000_000;
}

// ---------------------------------------------------------------------------------------------
// Process helpers
// ---------------------------------------------------------------------------------------------
interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Spawned {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<RunResult>;
}

function spawnProcess(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Spawned {
  const child = spawn(cmd, [...args], {
    env: opts.env ?? podmanEnv,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  if (child.stdout === null || child.stderr === null) throw new Error(`${cmd}: no stdout/stderr pipes`);
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  if (opts.input !== undefined && child.stdin !== null) child.stdin.end(opts.input);
  const stdout = (): string => Buffer.concat(out).toString('utf8');
  const stderr = (): string => Buffer.concat(err).toString('utf8');
  const done = new Promise<RunResult>((resolveDone, rejectDone) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      rejectDone(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveDone({ code, signal, stdout: stdout(), stderr: stderr() });
    });
  });
  return { stdout, stderr, done };
}

function runProcess(cmd: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return spawnProcess(cmd, args, opts).done;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------
// Container helpers: every container has a unique name and is removed afterwards
// ---------------------------------------------------------------------------------------------
const containers = new Set<string>();
const tempDirs = new Set<string>();
let counter = 0;

function containerName(): string {
  counter += 1;
  const name = `stromboli-fake-claude-test-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`;
  containers.add(name);
  return name;
}

/** A host directory to bind-mount as the agent's HOME (owned by the agent's uid). */
async function newHome(owner: number = AGENT_UID): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-claude-home-'));
  tempDirs.add(dir);
  if (isRoot) await chown(dir, owner, owner);
  return dir;
}

interface FakeOptions {
  home: string;
  /** container user; defaults to the non-root agent user */
  user?: 'agent' | 'root';
  workdir?: string;
  volumes?: readonly string[];
  /** names of variables passed with `-e NAME` (values come from `env`, never from argv) */
  env?: Readonly<Record<string, string>>;
  stdin?: string;
  name?: string;
  timeoutMs?: number;
}

function podmanRunArgs(claudeArgs: readonly string[], opts: FakeOptions, name: string): string[] {
  const user: string[] = [];
  if (opts.user === 'root') user.push('--user', '0:0');
  else if (isRoot) user.push('--user', `${AGENT_UID}:${AGENT_UID}`);
  else user.push('--userns=keep-id', '--user', `${process.getuid?.() ?? AGENT_UID}:${process.getgid?.() ?? AGENT_UID}`);
  const env: string[] = [];
  for (const key of Object.keys(opts.env ?? {})) env.push('-e', key);
  const volumes: string[] = [];
  for (const v of opts.volumes ?? []) volumes.push('-v', v);
  return [
    'run',
    '--rm',
    '--name',
    name,
    ...user,
    '--cap-drop=ALL',
    '--security-opt',
    'no-new-privileges',
    '--pids-limit',
    '256',
    '--network',
    'none',
    '-e',
    'HOME=/home/user',
    ...env,
    '-v',
    `${opts.home}:/home/user`,
    ...volumes,
    '-w',
    opts.workdir ?? '/workspace',
    ...(opts.stdin === undefined ? [] : ['-i']),
    IMAGE,
    ...claudeArgs,
  ];
}

function startFake(claudeArgs: readonly string[], opts: FakeOptions): Spawned & { name: string } {
  const name = opts.name ?? containerName();
  const spawned = spawnProcess('podman', podmanRunArgs(claudeArgs, opts, name), {
    env: { ...podmanEnv, ...(opts.env ?? {}) },
    ...compact({ input: opts.stdin }),
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  return { ...spawned, name };
}

function runFake(claudeArgs: readonly string[], opts: FakeOptions): Promise<RunResult> {
  return startFake(claudeArgs, opts).done;
}

const STREAM = ['--output-format', 'stream-json', '--verbose'] as const;

/** Stromboli's argv shape: -p <prompt> first, then the session flag, then the output flags. */
function argv(prompt: string, session: { sessionId?: string; resume?: string }, ...rest: string[]): string[] {
  const out = ['-p', prompt];
  if (session.sessionId !== undefined) out.push('--session-id', session.sessionId);
  if (session.resume !== undefined) out.push('--resume', session.resume);
  return [...out, ...rest];
}

function sessionFile(home: string, sessionId: string, project = '-workspace'): string {
  return join(home, '.claude', 'projects', project, `${sessionId}.jsonl`);
}

async function readSession(home: string, sessionId: string, project = '-workspace'): Promise<JsonObject[]> {
  return parseLines(await readFile(sessionFile(home, sessionId, project), 'utf8'));
}

// ---------------------------------------------------------------------------------------------

describe('fake-claude test agent image', () => {
  let buildOutput = '';
  let buildMs = 0;

  beforeAll(async () => {
    const started = Date.now();
    const result = await runProcess('bash', [BUILD_SCRIPT], { timeoutMs: 240_000 });
    buildMs = Date.now() - started;
    buildOutput = result.stdout + result.stderr;
    if (result.code !== 0) throw new Error(`build.sh failed (${String(result.code)}): ${buildOutput}`);
  });

  afterEach(async () => {
    const names = [...containers];
    containers.clear();
    if (names.length > 0) await runProcess('podman', ['rm', '--force', '--ignore', ...names]);
  });

  afterAll(async () => {
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
    tempDirs.clear();
  });

  describe('image', () => {
    it('builds idempotently: a second build.sh run is a no-op', async () => {
      expect(buildOutput).toMatch(/fake-claude: (built|.* is up to date)/);
      const again = await runProcess('bash', [BUILD_SCRIPT]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/is up to date/);
      console.info(`fake-claude build: ${buildMs} ms (${buildOutput.trim()})`);
    });

    it('is a tiny scratch image whose entrypoint is claude, labelled with its input hash', async () => {
      const inspect = await runProcess('podman', ['image', 'inspect', IMAGE]);
      expect(inspect.code).toBe(0);
      const image = obj(arr(parseJson(inspect.stdout), 'inspect')[0], 'image');
      const config = obj(image['Config'], 'Config');
      expect(config['Entrypoint']).toEqual(['/usr/local/bin/claude']);
      expect(config['WorkingDir']).toBe('/workspace');
      const labels = obj(config['Labels'], 'Labels');
      expect(str(labels, 'io.stromboli.fake-claude.hash')).toMatch(/^[0-9a-f]{64}$/);
      expect(num(image, 'Size')).toBeLessThan(5_000_000);
    });

    it('--version prints the CLI version and exits 0', async () => {
      const home = await newHome();
      const result = await runFake(['--version'], { home });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('2.1.332 (Claude Code)\n');
    });
  });

  describe('a plain run', () => {
    it('prints init, assistant and result events and writes the session file', async () => {
      const home = await newHome();
      const sessionId = randomUUID();
      const prompt = 'hello world';
      const result = await runFake(argv(prompt, { sessionId }, ...STREAM), { home });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout);
      expect(events.map((e) => e['type'])).toEqual(['system', 'assistant', 'result']);

      const init = only(events, 'system');
      expect(init).toMatchObject({
        subtype: 'init',
        cwd: '/workspace',
        session_id: sessionId,
        model: 'claude-sonnet-5-5',
        permissionMode: 'default',
        apiKeySource: 'none',
        claude_code_version: '2.1.332',
        mcp_servers: [],
        additional_directories: [],
      });
      expect(arr(init['tools'], 'tools')).toEqual(expect.arrayContaining(['Bash', 'Read', 'Edit', 'Write']));
      expect(str(init, 'uuid')).toMatch(/^[0-9a-f-]{36}$/);

      const assistant = only(events, 'assistant');
      expect(assistantText(assistant)).toBe(`echo: ${prompt}`);
      expect(assistant['session_id']).toBe(sessionId);

      const line = result.stdout.trim().split('\n').at(-1) ?? '';
      expect(line.startsWith('{"type"')).toBe(false); // key order is not to be relied on
      const res = only(events, 'result');
      expect(res).toMatchObject({
        subtype: 'success',
        is_error: false,
        num_turns: 1,
        result: `echo: ${prompt}`,
        stop_reason: 'end_turn',
        session_id: sessionId,
        terminal_reason: 'completed',
        api_error_status: null,
        permission_denials: [],
        result_index: 0,
        total_cost_usd: expectedCost(prompt),
        usage: expectedUsage(prompt),
      });
      expect(num(res, 'duration_ms')).toBeGreaterThan(0);
      expect(num(res, 'duration_api_ms')).toBeGreaterThan(0);
      expect(obj(obj(res['modelUsage'], 'modelUsage')['claude-sonnet-5-5'], 'model usage')).toMatchObject({
        inputTokens: 11,
        outputTokens: 22,
        costUSD: 0.0011,
      });

      // the session file, where the real CLI writes it, owned by the agent and private
      const file = sessionFile(home, sessionId);
      const info = await stat(file);
      expect(info.mode & 0o777).toBe(0o600);
      if (isRoot) expect(info.uid).toBe(AGENT_UID);
      await stat(join(home, '.claude.json'));
      const lines = await readSession(home, sessionId);
      expect(lines.map((l) => l['type'])).toEqual(['queue-operation', 'queue-operation', 'user', 'assistant', 'last-prompt', 'cost-state']);
      for (const l of lines) expect(l['sessionId']).toBe(sessionId);
      const [user, reply] = [lines[2], lines[3]].map((l, i) => obj(l, `conversation line ${i}`));
      if (user === undefined || reply === undefined) throw new Error('missing conversation lines');
      expect(user).toMatchObject({ parentUuid: null, isSidechain: false, cwd: '/workspace', message: { role: 'user', content: prompt } });
      expect(reply['parentUuid']).toBe(user['uuid']);
      expect(reply['uuid']).toBe(assistant['uuid']);
      expect(obj(reply['message'], 'message')['stop_reason']).toBe('end_turn');
    });

    it('supports --output-format text and json (json --verbose is an array of every message)', async () => {
      const home = await newHome();
      const text = await runFake(['-p', 'plain text'], { home });
      expect(text.code).toBe(0);
      expect(text.stdout).toBe('echo: plain text\n');

      const json = await runFake(['-p', 'as json', '--output-format', 'json'], { home });
      expect(json.code).toBe(0);
      expect(json.stdout.endsWith('\n')).toBe(true);
      expect(json.stdout.trim().split('\n')).toHaveLength(1);
      expect(obj(parseJson(json.stdout), 'json result')).toMatchObject({ type: 'result', subtype: 'success', result: 'echo: as json' });

      const verbose = await runFake(['-p', 'as array', '--output-format', 'json', '--verbose'], { home });
      expect(verbose.code).toBe(0);
      const all = arr(parseJson(verbose.stdout), 'verbose json').map((e, i) => obj(e, `message ${i}`));
      expect(all.map((e) => e['type'])).toEqual(['system', 'assistant', 'result']);
    });

    it('emits stream_event partials whose deltas add up to the assistant text', async () => {
      const home = await newHome();
      const prompt = 'partial ünïcödé ✓ 😀';
      const result = await runFake(['-p', prompt, ...STREAM, '--include-partial-messages'], { home });
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout);
      const streamEvents = byType(events, 'stream_event').map((e) => obj(e['event'], 'event'));
      expect(streamEvents.map((e) => e['type'])).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
      const deltas = streamEvents.filter((e) => e['type'] === 'content_block_delta').map((e) => str(obj(e['delta'], 'delta'), 'text'));
      expect(deltas.join('')).toBe(`echo: ${prompt}`);
      expect(assistantText(only(events, 'assistant'))).toBe(`echo: ${prompt}`);
      expect(events.at(-1)?.['type']).toBe('result');
    });
  });

  describe('sessions', () => {
    it('--resume keeps the id, sees the earlier turn and appends to the same file', async () => {
      const home = await newHome();
      const sessionId = randomUUID();
      const first = await runFake(argv('first question', { sessionId }, ...STREAM), { home });
      expect(first.code).toBe(0);

      const second = await runFake(argv('second question', { resume: sessionId }, ...STREAM), { home });
      expect(second.code).toBe(0);
      const events = parseLines(second.stdout);
      expect(only(events, 'system')['session_id']).toBe(sessionId);
      const res = only(events, 'result');
      expect(res).toMatchObject({
        session_id: sessionId,
        result: 'echo: second question (turn 2; previous prompt: first question)',
        usage: expectedUsage('second question'),
        total_cost_usd: expectedCost('first question', 'second question'),
      });

      const lines = await readSession(home, sessionId);
      const prompts = lines.filter((l) => l['type'] === 'user').map((l) => obj(l['message'], 'message')['content']);
      expect(prompts).toEqual(['first question', 'second question']);
      const conversation = lines.filter((l) => l['type'] === 'user' || l['type'] === 'assistant');
      conversation.forEach((line, i) => {
        expect(line['parentUuid']).toBe(i === 0 ? null : conversation[i - 1]?.['uuid']);
      });
      expect((await readdir(join(home, '.claude', 'projects', '-workspace'))).sort()).toEqual([`${sessionId}.jsonl`]);
    });

    it('--resume of an unknown session fails like the real CLI', async () => {
      const home = await newHome();
      const unknown = randomUUID();
      const result = await runFake(argv('hello', { resume: unknown }, ...STREAM), { home });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`No conversation found with session ID: ${unknown}\n`);
    });

    it('--session-id of an existing session fails like the real CLI', async () => {
      const home = await newHome();
      const sessionId = randomUUID();
      expect((await runFake(argv('one', { sessionId }), { home })).code).toBe(0);
      const again = await runFake(argv('two', { sessionId }, ...STREAM), { home });
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toBe(`Error: Session ID ${sessionId} is already in use.\n`);
    });

    it('rejects a non-UUID --session-id and --session-id with --resume but no --fork-session', async () => {
      const home = await newHome();
      const bad = await runFake(argv('x', { sessionId: 'not-a-uuid' }), { home });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe('Error: Invalid session ID. Must be a valid UUID.\n');
      const both = await runFake(['-p', 'x', '--session-id', randomUUID(), '--resume', randomUUID()], { home });
      expect(both.code).toBe(1);
      expect(both.stderr).toBe('Error: --session-id with --continue or --resume also needs --fork-session.\n');
    });

    it('--fork-session copies the history under the new --session-id; --continue resumes the newest', async () => {
      const home = await newHome();
      const original = randomUUID();
      const fork = randomUUID();
      expect((await runFake(argv('origin', { sessionId: original }), { home })).code).toBe(0);
      const forked = await runFake(['-p', 'branch', '--resume', original, '--fork-session', '--session-id', fork, '--output-format', 'json'], { home });
      expect(forked.code).toBe(0);
      expect(obj(parseJson(forked.stdout), 'fork result')).toMatchObject({
        session_id: fork,
        result: 'echo: branch (turn 2; previous prompt: origin)',
      });
      const forkLines = await readSession(home, fork);
      for (const l of forkLines) if ('sessionId' in l) expect(l['sessionId']).toBe(fork);
      expect((await readSession(home, original)).filter((l) => l['type'] === 'user')).toHaveLength(1);

      const cont = await runFake(['-p', 'later', '--continue', '--output-format', 'json'], { home });
      expect(cont.code).toBe(0);
      expect(obj(parseJson(cont.stdout), 'continue result')).toMatchObject({
        session_id: fork,
        result: 'echo: later (turn 3; previous prompt: branch)',
      });
    });

    it('encodes a bind-mounted workdir like the real CLI (every non-alphanumeric becomes -)', async () => {
      const home = await newHome();
      const workspace = await newHome();
      const workdir = '/workspace/My Proj.v1_x/Ünï_cödé';
      const hostDir = join(workspace, 'My Proj.v1_x', 'Ünï_cödé');
      await mkdir(hostDir, { recursive: true });
      const sessionId = randomUUID();
      const result = await runFake(argv('where am I', { sessionId }, ...STREAM), {
        home,
        workdir,
        volumes: [`${workspace}:/workspace`],
      });
      expect(result.code).toBe(0);
      expect(only(parseLines(result.stdout), 'system')['cwd']).toBe(workdir);
      const lines = await readSession(home, sessionId, '-workspace-My-Proj-v1-x--n--c-d-');
      expect(lines.find((l) => l['type'] === 'user')?.['cwd']).toBe(workdir);
    });

    it('reads NDJSON user messages with --input-format stream-json: one init and result per message', async () => {
      const home = await newHome();
      const sessionId = randomUUID();
      const input = [
        JSON.stringify({ type: 'user', message: { role: 'user', content: 'first "message"' } }),
        JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'second ✓' }] } }),
        '',
      ].join('\n');
      const result = await runFake(['-p', '', '--session-id', sessionId, '--input-format', 'stream-json', ...STREAM], {
        home,
        stdin: input,
      });
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout);
      expect(events.map((e) => e['type'])).toEqual(['system', 'assistant', 'result', 'system', 'assistant', 'result']);
      const results = byType(events, 'result');
      expect(results.map((r) => r['result_index'])).toEqual([0, 1]);
      expect(results.map((r) => r['result'])).toEqual([
        'echo: first "message"',
        'echo: second ✓ (turn 2; previous prompt: first "message")',
      ]);
    });
  });

  describe('escaping', () => {
    const tricky = [
      'quotes "double" and \'single\'',
      'backslashes \\ \\\\ \\n (literal) and a trailing backslash \\',
      'newlines\nline 2\r\nline 3\ttabbed',
      'control \u0001\u0007\u001b[0m\u001f',
      'unicode: é ü ß 中文 日本語 — “curly” … ✓ 😀 𝄞',
      '{"json":"looking","n":[1,2]} </script> $HOME `id` $(id) %s %d',
    ].join('\n');

    it('round-trips a prompt with quotes, backslashes, newlines, control chars and unicode', async () => {
      const home = await newHome();
      const sessionId = randomUUID();
      const result = await runFake(argv(tricky, { sessionId }, ...STREAM), { home });
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout); // every line must be valid JSON
      const res = only(events, 'result');
      expect(res['result']).toBe(`echo: ${tricky}`);
      expect(assistantText(only(events, 'assistant'))).toBe(`echo: ${tricky}`);
      expect(res['usage']).toMatchObject(expectedUsage(tricky));
      expect(res['total_cost_usd']).toBe(expectedCost(tricky));

      const lines = await readSession(home, sessionId);
      expect(obj(lines.find((l) => l['type'] === 'user')?.['message'], 'user message')['content']).toBe(tricky);
      expect(lines.find((l) => l['type'] === 'last-prompt')?.['lastPrompt']).toBe(tricky);

      // the earlier prompt is decoded from the session file on resume
      const resumed = await runFake(argv('next', { resume: sessionId }, '--output-format', 'json'), { home });
      expect(resumed.code).toBe(0);
      expect(obj(parseJson(resumed.stdout), 'resumed')['result']).toBe(`echo: next (turn 2; previous prompt: ${tricky})`);

      const text = await runFake(['-p', tricky, '--no-session-persistence'], { home });
      expect(text.code).toBe(0);
      expect(text.stdout).toBe(`echo: ${tricky}\n`);
    });
  });

  describe('large prompts', () => {
    it('joins a >128 KiB stdin prompt to the argument like the real CLI (arg + "\\n" + stdin)', async () => {
      const home = await newHome();
      const stdin = 'línea "x" \\ 😀\n'.repeat(8_000);
      const result = await runFake(['-p', 'head', '--output-format', 'json'], { home, stdin });
      expect(result.code).toBe(0);
      const prompt = `head\n${stdin.replace(/\n+$/, '')}`;
      expect(Buffer.byteLength(prompt)).toBeGreaterThan(128 * 1024);
      const res = obj(parseJson(result.stdout), 'result');
      expect(res['result']).toBe(`echo: ${prompt}`);
      expect(res['usage']).toMatchObject(expectedUsage(prompt));
    });
  });

  describe('structured output', () => {
    it('--json-schema puts a schema-shaped object in structured_output and its JSON text in result', async () => {
      const home = await newHome();
      const prompt = 'summarise "this"';
      const schema = {
        type: 'object',
        properties: {
          summary: { type: 'string' },
          score: { type: 'integer', maximum: 10 },
          length: { type: 'number' },
          ok: { type: 'boolean' },
          level: { type: 'string', enum: ['low', 'high'] },
          tags: { type: 'array', items: { type: 'string' } },
          nested: { type: 'object', properties: { note: { type: ['string', 'null'] } } },
        },
        required: ['summary'],
      };
      const result = await runFake(['-p', prompt, '--json-schema', JSON.stringify(schema), ...STREAM], { home });
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout);
      expect(arr(only(events, 'system')['tools'], 'tools')).toContain('StructuredOutput');
      const expected = {
        summary: `echo: ${prompt}`,
        score: 10,
        length: Buffer.byteLength(prompt),
        ok: true,
        level: 'low',
        tags: [`echo: ${prompt}`],
        nested: { note: `echo: ${prompt}` },
      };
      const block = obj(arr(obj(only(events, 'assistant')['message'], 'message')['content'], 'content')[0], 'block');
      expect(block).toMatchObject({ type: 'tool_use', name: 'StructuredOutput', input: expected });
      const res = only(events, 'result');
      expect(res['structured_output']).toEqual(expected);
      expect(parseJson(str(res, 'result'))).toEqual(expected);
      expect(res).toMatchObject({ subtype: 'success', is_error: false });
    });

    it('rejects a --json-schema that is not valid JSON', async () => {
      const home = await newHome();
      const result = await runFake(['-p', 'x', '--json-schema', '{not json', ...STREAM], { home });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^Error: --json-schema is not valid JSON: /);
    });
  });

  describe('validation errors (exit 1, nothing on stdout)', () => {
    const cases: readonly (readonly [string, readonly string[], string])[] = [
      ['stream-json without --verbose', ['-p', 'x', '--output-format', 'stream-json'], 'Error: When using --print, --output-format=stream-json requires --verbose\n'],
      ['unknown option', ['-p', 'x', '--bogus-flag'], "error: unknown option '--bogus-flag'\n"],
      [
        'invalid --output-format',
        ['-p', 'x', '--output-format', 'xml'],
        "error: option '--output-format <format>' argument 'xml' is invalid. Allowed choices are text, json, stream-json.\n",
      ],
      ['non-numeric --max-turns', ['-p', 'x', '--max-turns', 'abc'], "error: option '--max-turns <turns>' argument 'abc' is invalid. must be a number\n"],
      ['no prompt', ['-p'], 'Error: Input must be provided either through stdin or as a prompt argument when using --print\n'],
    ];
    for (const [title, args, stderr] of cases) {
      it(title, async () => {
        const home = await newHome();
        const result = await runFake(args, { home });
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toBe(stderr);
      });
    }

    it('a prompt swallowed by a variadic flag gives the hint and the no-input error', async () => {
      const home = await newHome();
      const result = await runFake(['-p', '--allowedTools', 'Bash', 'do it'], { home });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('"do it" was read as a value of --allowedTools, not as a prompt');
      expect(result.stderr).toContain('Error: Input must be provided');
    });

    it('refuses bypass permissions as root unless IS_SANDBOX=1', async () => {
      const home = await newHome(0);
      const refused = await runFake(['-p', 'x', '--dangerously-skip-permissions', ...STREAM], { home, user: 'root' });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe('--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n');
      const allowed = await runFake(['-p', 'x', '--dangerously-skip-permissions', ...STREAM], {
        home,
        user: 'root',
        env: { IS_SANDBOX: '1' },
      });
      expect(allowed.code).toBe(0);
      expect(only(parseLines(allowed.stdout), 'system')['permissionMode']).toBe('bypassPermissions');
    });
  });

  describe('scenario directives', () => {
    it('[fake:max-turns] with --max-turns 2: two tool turns, then error_max_turns and exit 1', async () => {
      const home = await newHome();
      const prompt = 'keep going [fake:max-turns]';
      const result = await runFake(['-p', prompt, '--max-turns', '2', ...STREAM], { home });
      expect(result.code).toBe(1);
      const events = parseLines(result.stdout);
      expect(events.map((e) => e['type'])).toEqual(['system', 'assistant', 'user', 'assistant', 'user', 'result']);
      const res = only(events, 'result');
      expect(res).toMatchObject({
        subtype: 'error_max_turns',
        is_error: true,
        num_turns: 3,
        terminal_reason: 'max_turns',
        errors: ['Reached maximum number of turns (2)'],
        usage: expectedUsage(prompt, 2),
      });
      expect('result' in res).toBe(false);

      const text = await runFake(['-p', prompt, '--max-turns', '2'], { home });
      expect(text.code).toBe(1);
      expect(text.stdout).toBe('Error: Reached max turns (2)');
    });

    it('[fake:api-error]: synthetic assistant message and an is_error success-shaped result, exit 1', async () => {
      const home = await newHome();
      const result = await runFake(['-p', 'boom [fake:api-error]', ...STREAM], { home });
      expect(result.code).toBe(1);
      const events = parseLines(result.stdout);
      expect(events.map((e) => e['type'])).toEqual(['system', 'assistant', 'result']);
      const assistant = only(events, 'assistant');
      expect(assistant).toMatchObject({ error: 'overloaded', is_api_error_message: true, api_error_status: 529 });
      expect(obj(assistant['message'], 'message')['model']).toBe('<synthetic>');
      expect(only(events, 'result')).toMatchObject({
        subtype: 'success',
        is_error: true,
        result: 'API Error: 529 Overloaded',
        terminal_reason: 'api_error',
        api_error_status: 529,
        total_cost_usd: 0,
      });

      const badKey = await runFake(['-p', 'boom [fake:api-error=401]'], { home });
      expect(badKey.code).toBe(1);
      expect(badKey.stdout).toBe('Invalid API key · Fix external API key');
    });

    it('[fake:exit=N]: init, then exit N without a result', async () => {
      const home = await newHome();
      const result = await runFake(['-p', 'bye [fake:exit=3]', ...STREAM], { home });
      expect(result.code).toBe(3);
      expect(parseLines(result.stdout).map((e) => e['type'])).toEqual(['system']);
    });

    it('[fake:crash]: init, then dies like SIGSEGV (139) without a result', async () => {
      const home = await newHome();
      const result = await runFake(['-p', 'crash [fake:crash]', ...STREAM], { home });
      expect(result.code).toBe(139);
      expect(parseLines(result.stdout).map((e) => e['type'])).toEqual(['system']);
    });

    it('[fake:sleep=N]: init is printed at once, the result about N seconds later', async () => {
      const home = await newHome();
      const run = startFake(['-p', 'slow [fake:sleep=2]', ...STREAM], { home });
      await waitFor('the init event', () => run.stdout().includes('"subtype":"init"'));
      const initSeen = Date.now();
      expect(run.stdout()).not.toContain('"type":"result"');
      await waitFor('the result event', () => run.stdout().includes('"type":"result"'));
      const resultSeen = Date.now();
      const result = await run.done;
      expect(result.code).toBe(0);
      expect(resultSeen - initSeen).toBeGreaterThanOrEqual(1_500);
      expect(num(only(parseLines(result.stdout), 'result'), 'duration_ms')).toBeGreaterThanOrEqual(2_000);
    });

    it('[fake:hang] + SIGTERM (podman stop): exits 143 at once, no result', async () => {
      const home = await newHome();
      const run = startFake(['-p', 'wait [fake:hang]', ...STREAM], { home });
      await waitFor('the init event', () => run.stdout().includes('"subtype":"init"'));
      const started = Date.now();
      const stop = await runProcess('podman', ['stop', '--time', '20', run.name]);
      expect(stop.code).toBe(0);
      const result = await run.done;
      expect(Date.now() - started).toBeLessThan(15_000); // not the SIGKILL after the grace period
      expect(result.code).toBe(143);
      expect(parseLines(result.stdout).map((e) => e['type'])).toEqual(['system']);
    });

    it('[fake:hang] + SIGINT: an interrupted error_during_execution result, exit 0', async () => {
      const home = await newHome();
      const run = startFake(['-p', 'wait [fake:hang]', ...STREAM], { home });
      await waitFor('the init event', () => run.stdout().includes('"subtype":"init"'));
      const kill = await runProcess('podman', ['kill', '--signal', 'INT', run.name]);
      expect(kill.code).toBe(0);
      const result = await run.done;
      expect(result.code).toBe(0);
      const events = parseLines(result.stdout);
      expect(events.map((e) => e['type'])).toEqual(['system', 'user', 'result']);
      expect(only(events, 'result')).toMatchObject({
        subtype: 'error_during_execution',
        is_error: true,
        terminal_reason: 'aborted_streaming',
      });
    });
  });

  describe('invocation log', () => {
    it('FAKE_CLAUDE_LOG records argv and exit code, and secrets only as "set"', async () => {
      const home = await newHome();
      const secret = `not-a-real-key-${randomUUID()}`;
      const result = await runFake(['-p', 'logged', '--model', 'opus', ...STREAM], {
        home,
        env: { FAKE_CLAUDE_LOG: '/home/user/invocations.jsonl', ANTHROPIC_API_KEY: secret },
      });
      expect(result.code).toBe(0);
      expect(only(parseLines(result.stdout), 'system')).toMatchObject({ model: 'claude-opus-5-5', apiKeySource: 'ANTHROPIC_API_KEY' });
      const raw = await readFile(join(home, 'invocations.jsonl'), 'utf8');
      expect(raw).not.toContain(secret);
      const [record] = parseLines(raw);
      expect(record).toMatchObject({
        argv: ['-p', 'logged', '--model', 'opus', ...STREAM],
        cwd: '/workspace',
        uid: isRoot ? AGENT_UID : process.getuid?.(),
        exit_code: 0,
        env: { ANTHROPIC_API_KEY: 'set', HOME: '/home/user' },
      });
    });
  });
});
