// The real agent image (images/agent/build.sh) running the REAL Claude Code CLI with real podman
// against the scripted fake Anthropic API (controller/test/fixtures/fake-anthropic.ts).
// Run: npx vitest run --project podman controller/test/podman/agent-image.int.test.ts
//
// What made the CLI work (also in images/agent/README.md):
//   podman run --rm --network host --user 1000:1000
//     -e HOME=/home/user -v <home dir owned by 1000>:/home/user -v <dir owned by 1000>:/workspace
//     -e ANTHROPIC_BASE_URL=http://127.0.0.1:<port>
//     -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 -e CLAUDE_CODE_MAX_RETRIES=0
//     --secret <name>,type=env,target=ANTHROPIC_API_KEY       (podman secret create <name> <0600 file>)
//     localhost/stromboli/agent:latest -p <prompt> --output-format stream-json --verbose
//     [--permission-mode bypassPermissions] [--resume <session id>]
//   with stdin = /dev/null (podman run without -i). A private CA for an HTTPS endpoint is given at
//   run time with -v <ca.crt>:/etc/stromboli/ca.crt:ro -e NODE_EXTRA_CA_CERTS=/etc/stromboli/ca.crt.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startFakeAnthropic } from '../fixtures/fake-anthropic.ts';
import type { FakeAnthropic, FakeMessage, RecordedRequest } from '../fixtures/fake-anthropic.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const BUILD_SCRIPT = join(ROOT, 'images/agent/build.sh');
const PODMAN_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  CONTAINERS_CONF: process.env['CONTAINERS_CONF'] ?? join(ROOT, 'config/containers.conf'),
};
const AGENT_UID = 1000;
const RUN_TIMEOUT_MS = 120_000;

interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** One line of the CLI's stream-json output. */
interface CliEvent {
  type: string;
  subtype?: string;
  session_id?: string;
  [key: string]: unknown;
}

interface ResultEvent extends CliEvent {
  type: 'result';
  is_error: boolean;
  result?: string;
  num_turns: number;
  total_cost_usd: number;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number };
  api_error_status?: number | null;
  permission_denials: unknown[];
}

interface CliRun extends ProcResult {
  events: CliEvent[];
  init: CliEvent;
  result: ResultEvent;
}

/** Spawns a command with stdin = /dev/null; kills it after timeoutMs. */
function runProcess(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; onTimeout?: () => void; echoStderr?: boolean },
): Promise<ProcResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? PODMAN_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (options.echoStderr === true) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => {
      options.onTimeout?.();
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

function parseEvents(stdout: string): CliEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const value = JSON.parse(line) as unknown;
      if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
        throw new Error(`not a stream-json event: ${line}`);
      }
      return value as CliEvent;
    });
}

/** A directory the container user (uid 1000) can write. */
function agentDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    chownSync(dir, AGENT_UID, AGENT_UID);
  } catch {
    chmodSync(dir, 0o777);
  }
  return dir;
}

/** Texts of a message's content (string or blocks). */
function texts(message: FakeMessage): string[] {
  if (typeof message.content === 'string') return [message.content];
  if (!Array.isArray(message.content)) return [];
  const out: string[] = [];
  for (const block of message.content as unknown[]) {
    if (typeof block !== 'object' || block === null) continue;
    const b = block as { type?: unknown; text?: unknown; content?: unknown };
    if (b.type === 'text' && typeof b.text === 'string') out.push(b.text);
    if (b.type === 'tool_result') out.push(typeof b.content === 'string' ? b.content : JSON.stringify(b.content));
  }
  return out;
}

function blocksOfType(message: FakeMessage, type: string): Array<Record<string, unknown>> {
  if (!Array.isArray(message.content)) return [];
  return (message.content as unknown[]).filter(
    (b): b is Record<string, unknown> => typeof b === 'object' && b !== null && (b as { type?: unknown }).type === type,
  );
}

describe('agent image: real Claude Code CLI in podman against the fake Anthropic API', () => {
  let image = '';
  let claudeVersion = '';
  let fake: FakeAnthropic;
  const apiKey = `sk-ant-test-${randomBytes(16).toString('hex')}`;
  const secretName = `stromboli-test-anthropic-key-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dirs: string[] = [];
  const containers = new Set<string>();

  beforeAll(async () => {
    const started = Date.now();
    const build = await runProcess('bash', [BUILD_SCRIPT], { timeoutMs: 1_500_000, env: process.env, echoStderr: true });
    if (build.code !== 0) throw new Error(`images/agent/build.sh failed (exit ${String(build.code)}):\n${build.stderr}`);
    image = build.stdout.trim().split('\n').at(-1) ?? '';
    expect(image).toMatch(/^localhost\/stromboli\/agent:/);
    process.stderr.write(`agent image ready in ${Date.now() - started} ms: ${image}\n`);

    const inspect = await runProcess(
      'podman',
      ['image', 'inspect', '--format', '{{ index .Labels "io.stromboli.agent.claude-code-version" }}', image],
      { timeoutMs: 30_000 },
    );
    claudeVersion = inspect.stdout.trim();
    expect(claudeVersion).toMatch(/^2\.1\.\d+$/);

    fake = await startFakeAnthropic({ host: '127.0.0.1', port: 0, expectedApiKey: apiKey });

    // The key reaches the container only as a podman secret, created from a 0600 file.
    const keyDir = mkdtempSync(join(tmpdir(), 'stromboli-key-'));
    try {
      const keyFile = join(keyDir, 'key');
      writeFileSync(keyFile, apiKey, { mode: 0o600 });
      const created = await runProcess('podman', ['secret', 'create', secretName, keyFile], { timeoutMs: 30_000 });
      if (created.code !== 0) throw new Error(`podman secret create failed: ${created.stderr}`);
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  }, 1_600_000);

  afterAll(async () => {
    for (const name of containers) {
      await runProcess('podman', ['rm', '-f', '--ignore', name], { timeoutMs: 30_000 });
    }
    await runProcess('podman', ['secret', 'rm', secretName], { timeoutMs: 30_000 });
    await fake?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `claude <cliArgs>` in the image the way the controller will. */
  async function runClaude(
    cliArgs: readonly string[],
    mounts: { home: string; workspace: string },
    extra: { podmanArgs?: readonly string[]; baseUrl?: string } = {},
  ): Promise<CliRun> {
    const name = `stromboli-test-agent-${randomBytes(6).toString('hex')}`;
    containers.add(name);
    const args = [
      'run', '--rm', '--name', name,
      '--network', 'host',
      '--user', `${AGENT_UID}:${AGENT_UID}`,
      '-e', 'HOME=/home/user',
      '-v', `${mounts.home}:/home/user`,
      '-v', `${mounts.workspace}:/workspace`,
      ...(extra.podmanArgs ?? []),
      '-e', `ANTHROPIC_BASE_URL=${extra.baseUrl ?? fake.url}`,
      '-e', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1',
      '-e', 'CLAUDE_CODE_MAX_RETRIES=0',
      '--secret', `${secretName},type=env,target=ANTHROPIC_API_KEY`,
      image,
      ...cliArgs,
    ];
    const proc = await runProcess('podman', args, {
      timeoutMs: RUN_TIMEOUT_MS,
      onTimeout: () => void runProcess('podman', ['kill', name], { timeoutMs: 10_000 }),
    });
    containers.delete(name);
    const events = parseEvents(proc.stdout);
    const init = events.find((e) => e.type === 'system' && e.subtype === 'init');
    const result = events.at(-1);
    if (init === undefined || result?.type !== 'result') {
      throw new Error(`no init/result in CLI output (exit ${String(proc.code)}):\n${proc.stdout}\nstderr:\n${proc.stderr}`);
    }
    return { ...proc, events, init, result: result as ResultEvent };
  }

  function freshMounts(): { home: string; workspace: string } {
    const home = agentDir('stromboli-agent-home-');
    const workspace = agentDir('stromboli-agent-ws-');
    dirs.push(home, workspace);
    return { home, workspace };
  }

  function requestsSince(index: number): RecordedRequest[] {
    return fake.requests.slice(index);
  }

  it('the image carries its pinned versions and runs as uid 1000 with HOME=/home/user in /workspace', async () => {
    const proc = await runProcess(
      'podman',
      ['image', 'inspect', '--format', '{{ json .Config }}', image],
      { timeoutMs: 30_000 },
    );
    const config = JSON.parse(proc.stdout) as { User?: string; WorkingDir?: string; Entrypoint?: string[]; Labels?: Record<string, string> };
    expect(config.User).toBe('user');
    expect(config.WorkingDir).toBe('/workspace');
    expect(config.Entrypoint).toEqual(['claude']);
    expect(config.Labels?.['io.stromboli.agent.node-version']).toMatch(/^22\./);
    expect(config.Labels?.['io.stromboli.agent.recipe-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(config.Labels?.['io.stromboli.agent.ca-baked']).toBe('false');

    const who = await runProcess(
      'podman',
      ['run', '--rm', '--network', 'none', '--entrypoint', 'bash', image, '-c', 'id -u; echo "$HOME"; pwd; node --version; git --version; claude --version'],
      { timeoutMs: 60_000 },
    );
    expect(who.code).toBe(0);
    const [uid, home, cwd, node, git, claude] = who.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    expect(home).toBe('/home/user');
    expect(cwd).toBe('/workspace');
    expect(node).toMatch(/^v22\./);
    expect(git).toMatch(/^git version 2\./);
    expect(claude).toBe(`${claudeVersion} (Claude Code)`);
  });

  it('plain run: init, assistant and result with session_id, scripted usage and a cost', async () => {
    const mounts = freshMounts();
    const before = fake.requests.length;
    fake.script([{ kind: 'text', text: 'Hello from the fake API', usage: { input_tokens: 123, output_tokens: 45 } }]);

    const run = await runClaude(['-p', 'Say hello', '--output-format', 'stream-json', '--verbose'], mounts);

    expect(run.code).toBe(0);
    expect(run.init).toMatchObject({ cwd: '/workspace', apiKeySource: 'ANTHROPIC_API_KEY', claude_code_version: claudeVersion });
    expect(run.init.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const assistant = run.events.find((e) => e.type === 'assistant');
    expect(JSON.stringify(assistant?.['message'])).toContain('Hello from the fake API');
    expect(run.result).toMatchObject({ subtype: 'success', is_error: false, result: 'Hello from the fake API', num_turns: 1 });
    expect(run.result.session_id).toBe(run.init.session_id);
    expect(run.result.usage.input_tokens).toBe(123);
    expect(run.result.usage.output_tokens).toBe(45);
    expect(run.result.total_cost_usd).toBeGreaterThan(0);

    // What the CLI sent: with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 nothing but the one
    // Messages call (without it, a HEAD /api/hello probe comes first).
    const seen = requestsSince(before);
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/messages']);
    const [request] = seen;
    expect(request?.query).toBe('?beta=true');
    expect(request?.auth).toBe('x-api-key');
    expect(request?.headers['x-api-key']).toBe('<redacted>');
    expect(request?.headers['user-agent']).toContain(`claude-cli/${claudeVersion}`);
    expect(request?.headers['x-claude-code-session-id']).toBe(run.init.session_id);
    expect(request?.stream).toBe(true);
    expect(request?.model).toBeTypeOf('string');
    expect(request?.max_tokens).toBeGreaterThan(0);
    expect(request?.system).toBeDefined();
    const toolNames = (request?.tools ?? []).map((t) => (t as { name?: unknown }).name);
    expect(toolNames).toEqual(expect.arrayContaining(['Bash', 'Write']));
    const userTexts = (request?.messages ?? []).filter((m) => m.role === 'user').flatMap(texts);
    expect(userTexts.some((t) => t.includes('Say hello'))).toBe(true);

    // The session file lands in the mounted HOME.
    const sessionFile = join(mounts.home, '.claude', 'projects', '-workspace', `${run.init.session_id ?? ''}.jsonl`);
    expect(existsSync(sessionFile)).toBe(true);
  });

  it('tool use: the fake asks for Write and Bash; the CLI runs them as uid 1000 in the mounted /workspace', async () => {
    const mounts = freshMounts();
    const before = fake.requests.length;
    fake.script([
      {
        kind: 'tool_use',
        text: 'Writing the file.',
        name: 'Write',
        input: { file_path: '/workspace/hello.txt', content: 'hi from the fake model\n' },
        usage: { input_tokens: 100, output_tokens: 20 },
      },
      {
        kind: 'tool_use',
        name: 'Bash',
        input: { command: 'id -u && cp /workspace/hello.txt /workspace/copy.txt', description: 'Copy the file' },
        usage: { input_tokens: 200, output_tokens: 30 },
      },
      { kind: 'text', text: 'Done.', usage: { input_tokens: 300, output_tokens: 5 } },
    ]);

    const run = await runClaude(
      ['-p', 'Create hello.txt', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'],
      mounts,
    );

    expect(run.code).toBe(0);
    expect(run.init['permissionMode']).toBe('bypassPermissions');
    expect(run.result).toMatchObject({ subtype: 'success', is_error: false, result: 'Done.', num_turns: 3 });
    expect(run.result.permission_denials).toEqual([]);
    expect(run.result.usage.input_tokens).toBe(600);
    expect(run.result.usage.output_tokens).toBe(55);

    const written = join(mounts.workspace, 'hello.txt');
    expect(readFileSync(written, 'utf8')).toBe('hi from the fake model\n');
    expect(statSync(written).uid).toBe(AGENT_UID);
    expect(readFileSync(join(mounts.workspace, 'copy.txt'), 'utf8')).toBe('hi from the fake model\n');

    // The tool results went back to the fake in the following requests.
    const messages = requestsSince(before).filter((r) => r.path === '/v1/messages');
    expect(messages).toHaveLength(3);
    const last = messages[2]?.messages ?? [];
    const results = last.filter((m) => m.role === 'user').flatMap((m) => blocksOfType(m, 'tool_result'));
    expect(results).toHaveLength(2);
    expect(JSON.stringify(results[1]?.['content'])).toMatch(/\b1000\b/);
    const toolUses = last.filter((m) => m.role === 'assistant').flatMap((m) => blocksOfType(m, 'tool_use'));
    expect(toolUses.map((b) => b['name'])).toEqual(['Write', 'Bash']);
  });

  it('resume: the second run sends the earlier turn and keeps the session id', async () => {
    const mounts = freshMounts();
    fake.script([
      { kind: 'text', text: 'The secret word is PAPAYA.', usage: { input_tokens: 50, output_tokens: 8 } },
      { kind: 'text', text: 'You asked about the secret word.', usage: { input_tokens: 70, output_tokens: 9 } },
    ]);
    const first = await runClaude(['-p', 'Remember a word', '--output-format', 'stream-json', '--verbose'], mounts);
    expect(first.code).toBe(0);
    const sessionId = first.init.session_id ?? '';
    expect(sessionId).not.toBe('');

    const before = fake.requests.length;
    const second = await runClaude(
      ['-p', 'What did I ask before?', '--resume', sessionId, '--output-format', 'stream-json', '--verbose'],
      mounts,
    );
    expect(second.code).toBe(0);
    expect(second.result.session_id).toBe(sessionId);
    expect(second.result.result).toBe('You asked about the secret word.');

    const [request] = requestsSince(before).filter((r) => r.path === '/v1/messages');
    const history = request?.messages ?? [];
    const userTexts = history.filter((m) => m.role === 'user').flatMap(texts);
    const assistantTexts = history.filter((m) => m.role === 'assistant').flatMap(texts);
    expect(userTexts.some((t) => t.includes('Remember a word'))).toBe(true);
    expect(userTexts.some((t) => t.includes('What did I ask before?'))).toBe(true);
    expect(assistantTexts).toContain('The secret word is PAPAYA.');
  });

  // Observed with 2.1.332 (result text for the fake's real-API-like messages):
  //   401 "Invalid API key · Fix external API key"            error: authentication_failed
  //   429 "API Error: Request rejected (429) · <message>"     error: rate_limit
  //   500 "API Error: 500 <message>. This is a server-side issue…"  error: server_error
  //   529 "API Error: 529 Overloaded. This is a server-side issue…"  error: server_error
  it.each([
    { status: 401, retryAfterSeconds: undefined, error: 'authentication_failed', text: /^Invalid API key/ },
    { status: 429, retryAfterSeconds: 30, error: 'rate_limit', text: /^API Error: Request rejected \(429\)/ },
    { status: 500, retryAfterSeconds: undefined, error: 'server_error', text: /^API Error: 500 / },
    { status: 529, retryAfterSeconds: undefined, error: 'server_error', text: /^API Error: 529 Overloaded/ },
  ])('API error $status: result is_error with api_error_status and a non-zero exit', async ({ status, retryAfterSeconds, error, text }) => {
    const mounts = freshMounts();
    const before = fake.requests.length;
    fake.script([
      retryAfterSeconds === undefined
        ? { kind: 'error', status }
        : { kind: 'error', status, retryAfterSeconds },
    ]);

    const started = Date.now();
    const run = await runClaude(['-p', 'This will fail', '--output-format', 'stream-json', '--verbose'], mounts);

    expect(run.code).toBe(1);
    expect(run.result).toMatchObject({ is_error: true, api_error_status: status, terminal_reason: 'api_error' });
    expect(run.result.session_id).toBe(run.init.session_id);
    // The CLI reports the failure as a synthetic assistant message, then the result.
    const synthetic = run.events.find((e) => e.type === 'assistant');
    expect(synthetic?.['error']).toBe(error);
    expect(run.result.result).toMatch(text);
    // CLAUDE_CODE_MAX_RETRIES=0: exactly one attempt, even with retry-after.
    expect(requestsSince(before).filter((r) => r.path === '/v1/messages')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('a private CA given at run time (NODE_EXTRA_CA_CERTS, mounted read-only) is trusted; without it TLS fails', async () => {
    const pki = mkdtempSync(join(tmpdir(), 'stromboli-pki-'));
    dirs.push(pki);
    const openssl = async (args: readonly string[]): Promise<void> => {
      const proc = await runProcess('openssl', args, { timeoutMs: 30_000, env: process.env });
      if (proc.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${proc.stderr}`);
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(['req', '-x509', ...ec, '-keyout', join(pki, 'ca.key'), '-out', join(pki, 'ca.crt'), '-days', '2',
      '-subj', '/CN=Stromboli test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await openssl(['req', ...ec, '-keyout', join(pki, 'server.key'), '-out', join(pki, 'server.csr'), '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(pki, 'ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    await openssl(['x509', '-req', '-in', join(pki, 'server.csr'), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
      '-CAcreateserial', '-out', join(pki, 'server.crt'), '-days', '2', '-extfile', join(pki, 'ext')]);
    chmodSync(join(pki, 'ca.crt'), 0o644);

    const tlsFake = await startFakeAnthropic({
      expectedApiKey: apiKey,
      tls: { key: readFileSync(join(pki, 'server.key'), 'utf8'), cert: readFileSync(join(pki, 'server.crt'), 'utf8') },
    });
    try {
      expect(tlsFake.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const untrusted = await runClaude(['-p', 'hi', '--output-format', 'stream-json', '--verbose'], freshMounts(), {
        baseUrl: tlsFake.url,
      });
      expect(untrusted.code).toBe(1);
      expect(untrusted.result.is_error).toBe(true);
      expect(untrusted.result.result).toMatch(/certificate/i);
      expect(tlsFake.messageRequests()).toHaveLength(0);

      tlsFake.script([{ kind: 'text', text: 'Hello over TLS', usage: { input_tokens: 5, output_tokens: 4 } }]);
      const trusted = await runClaude(['-p', 'hi', '--output-format', 'stream-json', '--verbose'], freshMounts(), {
        baseUrl: tlsFake.url,
        podmanArgs: ['-v', `${join(pki, 'ca.crt')}:/etc/stromboli/ca.crt:ro`, '-e', 'NODE_EXTRA_CA_CERTS=/etc/stromboli/ca.crt'],
      });
      expect(trusted.code).toBe(0);
      expect(trusted.result).toMatchObject({ is_error: false, result: 'Hello over TLS' });
      expect(tlsFake.messageRequests()).toHaveLength(1);
    } finally {
      await tlsFake.close();
    }
  });
});

describe('fake Anthropic API fixture (no container)', () => {
  let fake: FakeAnthropic;

  beforeAll(async () => {
    fake = await startFakeAnthropic({ expectedApiKey: 'sk-fixture' });
  });
  afterAll(async () => {
    await fake.close();
  });

  const headers = { 'content-type': 'application/json', 'x-api-key': 'sk-fixture', 'anthropic-version': '2023-06-01' };
  const body = (stream: boolean): string =>
    JSON.stringify({ model: 'claude-test', max_tokens: 64, stream, system: 'sys', messages: [{ role: 'user', content: 'hi' }] });

  /** Parses an SSE body into [event name, data] pairs. */
  function parseSse(text: string): Array<[string, Record<string, unknown>]> {
    return text
      .split('\n\n')
      .filter((chunk) => chunk.trim() !== '')
      .map((chunk) => {
        const name = /^event: (.+)$/m.exec(chunk)?.[1] ?? '';
        const data = /^data: (.+)$/m.exec(chunk)?.[1] ?? '{}';
        return [name, JSON.parse(data) as Record<string, unknown>];
      });
  }

  it('streams a scripted tool_use turn as Messages-API SSE events with the scripted usage', async () => {
    fake.script([{ kind: 'tool_use', text: 'ok', name: 'Bash', input: { command: 'echo hi' }, usage: { input_tokens: 9, output_tokens: 3 } }]);
    const res = await fetch(`${fake.url}/v1/messages?beta=true`, { method: 'POST', headers, body: body(true) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = parseSse(await res.text());
    const names = events.map(([name]) => name);
    expect(names[0]).toBe('message_start');
    expect(names.at(-2)).toBe('message_delta');
    expect(names.at(-1)).toBe('message_stop');
    expect(names).toContain('ping');
    const partial = events
      .filter(([, data]) => (data['delta'] as { type?: string } | undefined)?.type === 'input_json_delta')
      .map(([, data]) => (data['delta'] as { partial_json: string }).partial_json)
      .join('');
    expect(JSON.parse(partial)).toEqual({ command: 'echo hi' });
    const delta = events.find(([name]) => name === 'message_delta')?.[1];
    expect(delta).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 9, output_tokens: 3 } });

    const recorded = fake.requests.at(-1);
    expect(recorded).toMatchObject({ path: '/v1/messages', query: '?beta=true', model: 'claude-test', max_tokens: 64, system: 'sys', stream: true, answeredWith: 'tool_use' });
    expect(recorded?.headers['x-api-key']).toBe('<redacted>');
    expect(JSON.stringify(recorded)).not.toContain('sk-fixture');
  });

  it('answers non-streaming requests, and unscripted ones with the default text', async () => {
    fake.script([{ kind: 'text', text: 'plain', usage: { input_tokens: 1, output_tokens: 2 } }]);
    const first = (await (await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(false) })).json()) as Record<string, unknown>;
    expect(first).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-test', stop_reason: 'end_turn', content: [{ type: 'text', text: 'plain' }], usage: { input_tokens: 1, output_tokens: 2 } });
    const second = (await (await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(false) })).json()) as Record<string, unknown>;
    expect(fake.requests.at(-1)?.answeredWith).toBe('default');
    expect(JSON.stringify(second['content'])).toContain('default answer');
  });

  it('scripts API errors with retry-after, rejects a wrong key, and serves count_tokens and /api/hello', async () => {
    fake.script([{ kind: 'error', status: 429, retryAfterSeconds: 7 }, { kind: 'error', status: 529 }]);
    const limited = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(true) });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    const overloaded = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(true) });
    expect(overloaded.status).toBe(529);
    expect(((await overloaded.json()) as { error: { type: string } }).error.type).toBe('overloaded_error');

    const wrongKey = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { ...headers, 'x-api-key': 'nope' }, body: body(true) });
    expect(wrongKey.status).toBe(401);
    const count = await fetch(`${fake.url}/v1/messages/count_tokens`, { method: 'POST', headers, body: body(false) });
    expect(((await count.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    const hello = await fetch(`${fake.url}/api/hello`, { method: 'HEAD' });
    expect(hello.status).toBe(200);
  });

  it('delays slow turns and holds hanging ones until the client gives up', async () => {
    fake.script([{ kind: 'text', text: 'slow', delayMs: 300 }, { kind: 'hang', afterMessageStart: true }]);
    const started = Date.now();
    await (await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(false) })).json();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    const abort = new AbortController();
    const hanging = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers, body: body(true), signal: abort.signal });
    expect(hanging.status).toBe(200);
    const reader = hanging.body?.getReader();
    const firstChunk = await reader?.read();
    expect(new TextDecoder().decode(firstChunk?.value)).toContain('message_start');
    const next = reader?.read().then(
      () => 'data',
      () => 'aborted',
    );
    const raced = await Promise.race([next, new Promise<string>((r) => setTimeout(() => r('still hanging'), 300))]);
    expect(raced).toBe('still hanging');
    abort.abort();
    expect(await next).toBe('aborted');
    expect(fake.pending()).toBe(0);
  });
});
