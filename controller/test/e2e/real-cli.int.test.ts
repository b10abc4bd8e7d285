// End to end with the REAL Claude Code CLI (issue 5): the controller (`stromboli serve`
// in-process, file store) runs each AgentRun as a container of the real agent image
// (images/agent, Claude Code 2.1.332) with real podman, against the scripted fake Anthropic
// Messages API on 127.0.0.1. Every assertion on "what the CLI did" is read from the attempt log
// the controller persisted (status.logRef) or from what the fake API received, never assumed.
// Each test's requests are told apart by the CLI's x-claude-code-session-id header.
// Run: npx vitest run --project podman controller/test/e2e/real-cli.int.test.ts
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, getCondition } from '../../../contract/apis/v1alpha1/index.ts';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import { startEmbedded } from '../../../cmd/serve.ts';
import { createLogger } from '../../src/log.ts';
import type { FakeTurn, FakeUsage } from '../fixtures/fake-anthropic.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { LogLines } from '../helpers/embedded-server.ts';
import type { Run } from '../helpers/embedded-server.ts';
import { Labels, containersOfRun, inspectContainer, listContainers, runCommand } from '../helpers/podman.ts';
import { CONTAINERS_CONF } from '../helpers/repo.ts';
import { agentRun, attemptLogPath, readLogEvents, storeReader, waitForPhase, waitForRun, writeManifest } from '../helpers/runs.ts';
import {
  AGENT_IMAGE,
  AGENT_UID,
  apiKeySecretOf,
  ensureAgentImage,
  filesBelow,
  filesContaining,
  processCount,
  processesWithArgContaining,
  requestsOfSession,
  startRealCliServer,
  systemTextOf,
  textsOf,
  toolNamesOf,
  toolResultText,
  toolResultsOf,
} from './real-cli-helpers.ts';
import type { RealCliServer } from './real-cli-helpers.ts';

type LogEvent = Record<string, unknown>;

const suite = new Cleanup();
let rc: RealCliServer;

beforeAll(async () => {
  expect(await ensureAgentImage()).toMatch(/^localhost\/stromboli\/agent:/);
  rc = await startRealCliServer(suite);
}, 1_600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    console.error(`--- last log lines of the embedded server (${rc.stateDir}) ---\n${rc.logs.tail()}`);
  }
});

afterAll(async () => {
  const owner = rc?.owner;
  await suite.run();
  // Nothing of this suite is left behind: no container of its owner (the key's podman secret is
  // checked by its own cleanup step, which throws when the secret is still there).
  if (owner !== undefined) expect(await listContainers({ [Labels.owner]: owner }, { all: true })).toEqual([]);
});

/** Creates a run through the store (as the API does); the server's default image is the agent image. */
async function createRun(name: string, spec: Record<string, unknown>): Promise<Run> {
  return rc.server.store.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'default' }, spec });
}

const read = (name: string) => storeReader(rc.get, name);

/** The init event and the last line (which must be the result event) of a run's persisted log. */
async function logOf(run: Run): Promise<{ events: LogEvent[]; init: LogEvent | undefined; result: LogEvent | undefined }> {
  const logRef = run.status?.logRef;
  expect(logRef).toBe(attemptLogPath(rc.stateDir, run));
  const events = await readLogEvents(logRef ?? '');
  const init = events.find((e) => e['type'] === 'system' && e['subtype'] === 'init');
  const last = events.at(-1);
  return { events, init, result: last?.['type'] === 'result' ? last : undefined };
}

/** The ended container is removed once its attempt is recorded. */
async function expectContainersGone(run: Run): Promise<void> {
  await expect.poll(() => containersOfRun(run.metadata.uid), { timeout: 30_000 }).toEqual([]);
}

function usageOf(result: LogEvent | undefined): Record<string, number> {
  return (result?.['usage'] ?? {}) as Record<string, number>;
}

describe('a plain run', () => {
  it('ends Succeeded with the result text, session id, tokens, cost and turns exactly as the CLI result event reported them', async () => {
    const scripted: Required<FakeUsage> = { input_tokens: 123, output_tokens: 45, cache_creation_input_tokens: 67, cache_read_input_tokens: 89 };
    rc.fake.script([{ kind: 'text', text: 'Hello from the fake model.', usage: scripted }]);
    const prompt = 'Say hello to the real CLI suite.';
    await writeManifest(rc.runsDir, 'plain.yaml', agentRun('plain', { prompt, podman: { image: AGENT_IMAGE } }));

    const run = await waitForPhase(read('plain'), 'Succeeded', 'Succeeded');
    const status: AgentRunStatus = run.status ?? {};
    const { init, result } = await logOf(run);
    expect(init).toMatchObject({ cwd: '/workspace', apiKeySource: 'ANTHROPIC_API_KEY' });
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false });
    const usage = usageOf(result);

    // Status = the CLI's result event, field by field.
    expect(status.result).toBe(result?.['result']);
    expect(status.result).toBe('Hello from the fake model.');
    expect(status.sessionId).toBe(result?.['session_id']);
    expect(status.sessionId).toBe(init?.['session_id']);
    expect(status.usage).toEqual({
      inputTokens: usage['input_tokens'],
      outputTokens: usage['output_tokens'],
      cacheCreationInputTokens: usage['cache_creation_input_tokens'],
      cacheReadInputTokens: usage['cache_read_input_tokens'],
      costUSD: result?.['total_cost_usd'],
      numTurns: result?.['num_turns'],
      durationMs: result?.['duration_ms'],
      durationApiMs: result?.['duration_api_ms'],
      model: init?.['model'],
    });
    // …and the CLI's figures are the ones the fake scripted (one model call).
    expect(status.usage).toMatchObject({
      inputTokens: scripted.input_tokens,
      outputTokens: scripted.output_tokens,
      cacheCreationInputTokens: scripted.cache_creation_input_tokens,
      cacheReadInputTokens: scripted.cache_read_input_tokens,
      numTurns: 1,
      model: 'claude-opus-5-5',
    });
    expect(status.usage?.costUSD).toBeGreaterThan(0);
    expect(status.exitCode).toBe(0);
    expect(getCondition(status, 'Ready')?.status).toBe('True');

    // The fake saw exactly this run's one call, with the key (it refuses any other with a 401).
    const requests = requestsOfSession(rc.fake, status.sessionId ?? '');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ auth: 'x-api-key', model: 'claude-opus-5-5', stream: true, answeredWith: 'text' });
    expect((requests[0]?.messages ?? []).filter((m) => m.role === 'user').flatMap(textsOf)).toContain(prompt);
    await expectContainersGone(run);
  });
});

describe('a tool-use run', () => {
  it('leaves the file the model wrote in the mounted workspace and sends the Bash output back in the next request', async () => {
    const workspace = await rc.workspace('tools');
    const sessionId = randomUUID();
    const usage = (input: number, output: number): FakeUsage => ({ input_tokens: input, output_tokens: output });
    rc.fake.script([
      { kind: 'tool_use', text: 'Writing the file.', name: 'Write', input: { file_path: '/workspace/hello.txt', content: 'written by the fake model\n' }, usage: usage(100, 20) },
      { kind: 'tool_use', name: 'Bash', input: { command: 'cat /workspace/hello.txt; id -u; pwd', description: 'Show the file' }, usage: usage(200, 30) },
      { kind: 'text', text: 'Done.', usage: usage(300, 5) },
    ]);
    await createRun('tools', {
      prompt: 'Create hello.txt and show it.',
      session: { id: sessionId },
      podman: { volumes: [`${workspace}:/workspace`] },
      claude: { permissionMode: 'acceptEdits', allowedTools: ['Bash'] },
    });

    const run = await waitForPhase(read('tools'), 'Succeeded', 'Succeeded');
    expect(run.status?.result).toBe('Done.');
    expect(run.status?.sessionId).toBe(sessionId);
    expect(run.status?.usage).toMatchObject({ inputTokens: 600, outputTokens: 55, numTurns: 3 });

    // The Write tool ran as the container user in the bind-mounted workspace.
    const written = join(workspace, 'hello.txt');
    expect(await readFile(written, 'utf8')).toBe('written by the fake model\n');
    expect((await stat(written)).uid).toBe(AGENT_UID);

    // The Bash tool ran there too; its output came back to the model in the third request.
    const requests = requestsOfSession(rc.fake, sessionId);
    expect(requests).toHaveLength(3);
    const results = toolResultsOf(requests[2]);
    expect(results).toHaveLength(2);
    expect(results[1]?.['is_error']).not.toBe(true);
    expect(toolResultText(results[1])).toBe(`written by the fake model\n${AGENT_UID}\n/workspace`);
    const { init, result } = await logOf(run);
    expect(init?.['permissionMode']).toBe('acceptEdits');
    expect(result?.['permission_denials']).toEqual([]);
    await expectContainersGone(run);
  });
});

describe('a resumed session', () => {
  it('continues the first run: the fake receives the earlier turns, and the session id stays', async () => {
    const sessionId = randomUUID();
    rc.fake.script([
      { kind: 'text', text: 'The word is PAPAYA.' },
      { kind: 'text', text: 'You asked me to remember PAPAYA.' },
    ]);
    await createRun('resume-first', { prompt: 'Remember the word papaya.', session: { id: sessionId } });
    const first = await waitForPhase(read('resume-first'), 'Succeeded', 'Succeeded');
    expect(first.status?.sessionId).toBe(sessionId);
    expect(requestsOfSession(rc.fake, sessionId)).toHaveLength(1);

    await createRun('resume-second', { prompt: 'Which word did I ask you to remember?', session: { id: sessionId, resume: true } });
    const second = await waitForPhase(read('resume-second'), 'Succeeded', 'Succeeded');
    expect(second.status?.sessionId).toBe(sessionId);
    expect(second.status?.result).toBe('You asked me to remember PAPAYA.');

    const requests = requestsOfSession(rc.fake, sessionId);
    expect(requests).toHaveLength(2);
    const history = requests[1]?.messages ?? [];
    const userTexts = history.filter((m) => m.role === 'user').flatMap(textsOf);
    expect(userTexts).toContain('Remember the word papaya.');
    expect(userTexts).toContain('Which word did I ask you to remember?');
    expect(history.filter((m) => m.role === 'assistant').flatMap(textsOf)).toContain('The word is PAPAYA.');
    await expectContainersGone(second);
  });
});

describe('runs that fail', () => {
  it('ends Failed/MaxTurns when claude.maxTurns is reached', async () => {
    const sessionId = randomUUID();
    const bash = (n: number): FakeTurn => ({ kind: 'tool_use', name: 'Bash', input: { command: `echo turn-${n}` } });
    rc.fake.script([bash(1), bash(2), bash(3), { kind: 'text', text: 'never reached' }]);
    await createRun('max-turns', { prompt: 'Keep calling tools.', session: { id: sessionId }, claude: { maxTurns: 2, permissionMode: 'bypassPermissions' } });

    const run = await waitForPhase(read('max-turns'), 'Failed', 'MaxTurns');
    const { result } = await logOf(run);
    expect(result).toMatchObject({ subtype: 'error_max_turns', is_error: true, errors: ['Reached maximum number of turns (2)'] });
    expect(run.status?.message).toBe('Reached maximum number of turns (2)');
    expect(run.status?.usage?.numTurns).toBe(result?.['num_turns']);
    expect(run.status?.exitCode).toBe(1);
    expect(requestsOfSession(rc.fake, sessionId)).toHaveLength(2);
    await expectContainersGone(run);
  });

  it.each([
    { status: 500, text: /^API Error: 500 / },
    { status: 401, text: /^Invalid API key/ },
  ])('ends Failed/ApiError with the CLI error text when the API answers $status', async ({ status, text }) => {
    const sessionId = randomUUID();
    rc.fake.script([{ kind: 'error', status }]);
    const name = `api-error-${status}`;
    await createRun(name, { prompt: 'This call fails.', session: { id: sessionId } });

    const run = await waitForPhase(read(name), 'Failed', 'ApiError');
    const { result } = await logOf(run);
    expect(result).toMatchObject({ is_error: true, api_error_status: status, terminal_reason: 'api_error' });
    expect(result?.['result']).toMatch(text);
    expect(run.status?.result).toBe(result?.['result']);
    expect(run.status?.message).toBe(result?.['result']);
    expect(run.status?.exitCode).toBe(1);
    // CLAUDE_CODE_MAX_RETRIES=0 from --container-env: one attempt only.
    expect(requestsOfSession(rc.fake, sessionId)).toHaveLength(1);
    await expectContainersGone(run);
  });

  it('ends Failed/DeadlineExceeded when the model hangs past activeDeadlineSeconds, keeping the partial log', async () => {
    const sessionId = randomUUID();
    rc.fake.script([{ kind: 'hang', afterMessageStart: true }]);
    await createRun('deadline', { prompt: 'Think forever.', session: { id: sessionId }, activeDeadlineSeconds: 8 });

    const run = await waitForPhase(read('deadline'), 'Failed', 'DeadlineExceeded', { timeoutMs: 120_000 });
    const status = run.status ?? {};
    expect(status.message).toContain('deadline of 8s');
    const elapsedMs = Date.parse(status.completionTime ?? '') - Date.parse(status.startTime ?? '');
    expect(elapsedMs).toBeGreaterThanOrEqual(8_000);
    const { events, init, result } = await logOf(run);
    expect(init?.['session_id']).toBe(sessionId);
    expect(result).toBeUndefined();
    expect(events.some((e) => e['type'] === 'result')).toBe(false);
    expect(requestsOfSession(rc.fake, sessionId)).toHaveLength(1);
    await expectContainersGone(run);
  });
});

describe('cancel', () => {
  it('stops the container (none running by its uid label) and ends Cancelled', async () => {
    const sessionId = randomUUID();
    rc.fake.script([{ kind: 'hang' }]);
    await createRun('cancel', { prompt: 'Wait for the model.', session: { id: sessionId } });
    const running = await waitForPhase(read('cancel'), 'Running', 'Running');
    // The CLI is inside its API call when the cancel arrives.
    await rc.fake.waitFor(() => requestsOfSession(rc.fake, sessionId).length === 1, 60_000);
    const uid = running.metadata.uid;
    expect((await listContainers({ [Labels.uid]: uid }, { all: false })).map((c) => c.state)).toEqual(['running']);

    await rc.server.store.patchSpec({ namespace: 'default', name: 'cancel' }, { cancel: true });
    const cancelled = await waitForPhase(read('cancel'), 'Cancelled', 'Cancelled', { timeoutMs: 60_000 });
    expect(await listContainers({ [Labels.uid]: uid }, { all: false })).toEqual([]);
    expect(cancelled.status?.completionTime).toBeDefined();
    const { init } = await logOf(cancelled);
    expect(init?.['session_id']).toBe(sessionId);
    await expectContainersGone(cancelled);
  });
});

describe('structured output', () => {
  it('claude.jsonSchema yields status.structuredOutput from the StructuredOutput tool call', async () => {
    const sessionId = randomUUID();
    const schema = { type: 'object', properties: { answer: { type: 'integer' }, unit: { type: 'string' } }, required: ['answer', 'unit'], additionalProperties: false };
    const output = { answer: 42, unit: 'widgets' };
    // The CLI offers the model a StructuredOutput tool whose input_schema is the schema; the
    // model answers by calling it once (claude-cli.md §1.1, observed with 2.1.332).
    rc.fake.script([{ kind: 'tool_use', name: 'StructuredOutput', input: output }]);
    await createRun('structured', { prompt: 'How many widgets?', session: { id: sessionId }, claude: { jsonSchema: JSON.stringify(schema) } });

    const run = await waitForPhase(read('structured'), 'Succeeded', 'Succeeded');
    expect(run.status?.structuredOutput).toEqual(output);
    const { result } = await logOf(run);
    expect(result?.['structured_output']).toEqual(output);
    expect(JSON.parse(run.status?.result ?? 'null')).toEqual(output);

    const [request] = requestsOfSession(rc.fake, sessionId);
    const tool = (request?.tools ?? []).find((t) => (t as { name?: unknown }).name === 'StructuredOutput');
    expect(tool).toMatchObject({ input_schema: schema });
    await expectContainersGone(run);
  });
});

describe('claude options reach the CLI', () => {
  it('model, systemPrompt, allowedTools and disallowedTools: the fake sees the model, the prompt, and no Bash tool', async () => {
    const workspace = await rc.workspace('options');
    const sessionId = randomUUID();
    const marker = `SYSTEM-MARKER-${randomBytes(6).toString('hex')}`;
    rc.fake.script([
      { kind: 'tool_use', name: 'Write', input: { file_path: '/workspace/allowed.txt', content: 'allowed\n' } },
      { kind: 'tool_use', name: 'Bash', input: { command: 'echo should-not-run > /workspace/bash.txt' } },
      { kind: 'text', text: 'done' },
    ]);
    await createRun('options', {
      prompt: 'Use your tools.',
      session: { id: sessionId },
      podman: { volumes: [`${workspace}:/workspace`] },
      claude: { model: 'sonnet', systemPrompt: `You are the Stromboli e2e model. ${marker}`, allowedTools: ['Write'], disallowedTools: ['Bash'] },
    });

    const run = await waitForPhase(read('options'), 'Succeeded', 'Succeeded');
    const requests = requestsOfSession(rc.fake, sessionId);
    expect(requests).toHaveLength(3);
    for (const request of requests) {
      expect(request.model).toBe('claude-sonnet-5-5');
      expect(systemTextOf(request)).toContain(marker);
      // --system-prompt replaces Claude Code's own prompt.
      expect(systemTextOf(request)).not.toContain("You are Claude Code, Anthropic's official CLI");
      expect(toolNamesOf(request)).toContain('Write');
      expect(toolNamesOf(request)).not.toContain('Bash');
    }
    expect(run.status?.usage?.model).toBe('claude-sonnet-5-5');
    // Write was pre-approved (default permission mode); Bash does not exist for the model.
    expect(await readFile(join(workspace, 'allowed.txt'), 'utf8')).toBe('allowed\n');
    expect(existsSync(join(workspace, 'bash.txt'))).toBe(false);
    const results = toolResultsOf(requests[2]);
    expect(results[0]?.['is_error']).not.toBe(true);
    expect(results[1]?.['is_error']).toBe(true);
    expect(toolResultText(results[1])).toContain('No such tool available: Bash');
    const { init } = await logOf(run);
    expect(init).toMatchObject({ model: 'claude-sonnet-5-5', permissionMode: 'default' });
    expect(init?.['tools']).not.toContain('Bash');
    await expectContainersGone(run);
  });

  it('appendSystemPrompt and permissionMode: the default prompt keeps the appended text, and a Write is denied', async () => {
    const workspace = await rc.workspace('denied');
    const sessionId = randomUUID();
    const marker = `APPEND-MARKER-${randomBytes(6).toString('hex')}`;
    rc.fake.script([
      { kind: 'tool_use', name: 'Write', input: { file_path: '/workspace/denied.txt', content: 'must not exist\n' } },
      { kind: 'text', text: 'I was not allowed to write.' },
    ]);
    await createRun('denied', {
      prompt: 'Write denied.txt.',
      session: { id: sessionId },
      podman: { volumes: [`${workspace}:/workspace`] },
      claude: { appendSystemPrompt: marker, permissionMode: 'dontAsk' },
    });

    const run = await waitForPhase(read('denied'), 'Succeeded', 'Succeeded');
    const requests = requestsOfSession(rc.fake, sessionId);
    expect(requests).toHaveLength(2);
    const system = systemTextOf(requests[0]);
    expect(system).toContain(marker);
    expect(system).toContain("You are Claude Code, Anthropic's official CLI");
    expect(existsSync(join(workspace, 'denied.txt'))).toBe(false);
    const [denial] = toolResultsOf(requests[1]);
    expect(denial?.['is_error']).toBe(true);
    expect(toolResultText(denial)).toContain("don't ask mode");
    const { init, result } = await logOf(run);
    expect(init?.['permissionMode']).toBe('dontAsk');
    expect(result?.['permission_denials']).toEqual([expect.objectContaining({ tool_name: 'Write' })]);
    expect(run.status?.result).toBe('I was not allowed to write.');
    await expectContainersGone(run);
  });
});

describe('the HTTP facade', () => {
  it("POST /run answers Stromboli's RunResponse with the CLI's output, session id and usage", async () => {
    const scripted = { input_tokens: 21, output_tokens: 13, cache_creation_input_tokens: 3, cache_read_input_tokens: 5 };
    rc.fake.script([{ kind: 'text', text: 'Hello over HTTP.', usage: scripted }]);
    const response = await fetch(new URL('/run', rc.server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Say hello over HTTP.', claude: { model: 'sonnet' } }),
      signal: AbortSignal.timeout(120_000),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      status: 'completed',
      output: 'Hello over HTTP.',
      usage: { model: 'claude-sonnet-5-5', ...scripted, total_tokens: 42 },
    });
    expect(body['id']).toMatch(/^run-[0-9a-f]{16}$/);
    const sessionId = String(body['session_id']);
    const run = await rc.get(String(body['id']));
    expect(run.status?.phase).toBe('Succeeded');
    expect(run.status?.sessionId).toBe(sessionId);
    expect((body['usage'] as { estimated_cost_usd?: number }).estimated_cost_usd).toBe(Math.round((run.status?.usage?.costUSD ?? 0) * 1e6) / 1e6);
    expect(requestsOfSession(rc.fake, sessionId)).toHaveLength(1);
    await expectContainersGone(run);
  });
});

describe('the API key', () => {
  it('appears in no status, persisted file, server log line, container argv or process command line', async () => {
    const key = rc.apiKey;
    const sessionId = randomUUID();
    const prompt = `Probe for leaks ${randomBytes(4).toString('hex')}.`;
    rc.fake.script([{ kind: 'hang' }]);
    await createRun('secret-probe', { prompt, session: { id: sessionId } });
    const running = await waitForPhase(read('secret-probe'), 'Running', 'Running');
    await rc.fake.waitFor(() => requestsOfSession(rc.fake, sessionId).length === 1, 60_000);
    // The key reached the CLI (the fake answers 401 to any other key) …
    expect(requestsOfSession(rc.fake, sessionId)[0]?.auth).toBe('x-api-key');

    // … but not through argv: podman's record of the container's command and of its own command line.
    const [container] = await listContainers({ [Labels.uid]: running.metadata.uid }, { all: false });
    const inspected = await inspectContainer(container?.id ?? '');
    const config = (inspected?.['Config'] ?? {}) as Record<string, unknown>;
    const argv = { Path: inspected?.['Path'], Args: inspected?.['Args'], Cmd: config['Cmd'], Entrypoint: config['Entrypoint'], CreateCommand: config['CreateCommand'] };
    expect(JSON.stringify(argv)).toContain(prompt);
    // The CLI path records its argv (CreateCommand, with the --secret spec); the REST path records
    // none (its create body names the secret in secret_env: podman/create-body.test.ts).
    if (config['CreateCommand'] !== undefined) expect(JSON.stringify(argv)).toContain(`${apiKeySecretOf(rc.owner)},type=env,target=ANTHROPIC_API_KEY`);
    else expect((config['Env'] as string[] | undefined) ?? []).toContain(`ANTHROPIC_API_KEY=${key}`);
    expect(JSON.stringify(argv)).not.toContain(key);
    // No process of this host (podman, conmon, the CLI in the container…) has it in its argv.
    expect(await processCount()).toBeGreaterThan(10);
    expect((await processesWithArgContaining(prompt)).length).toBeGreaterThanOrEqual(1);
    expect(await processesWithArgContaining(key)).toEqual([]);

    await rc.server.store.patchSpec({ namespace: 'default', name: 'secret-probe' }, { cancel: true });
    await waitForPhase(read('secret-probe'), 'Cancelled', 'Cancelled', { timeoutMs: 60_000 });

    // Status of every run of the suite, whole objects.
    const runs = await rc.server.store.list();
    expect(runs.length).toBeGreaterThanOrEqual(1);
    for (const run of runs) expect(JSON.stringify(run)).not.toContain(key);
    expect(runs.map((r) => r.metadata.name)).toContain('secret-probe');
    // Every file the server wrote: status, attempt logs (stdout and stderr), session HOMEs.
    expect((await filesBelow(rc.stateDir)).some((f) => f.endsWith('.jsonl'))).toBe(true);
    expect(await filesContaining(rc.stateDir, key)).toEqual([]);
    expect(await filesContaining(rc.runsDir, key)).toEqual([]);
    // Every log line of the server, at debug level.
    expect(rc.logs.lines.some((l) => l['level'] === 20)).toBe(true);
    expect(JSON.stringify(rc.logs.lines)).not.toContain(key);
  });
});

// Regression (found by this suite, fixed in ac7d4f8): the credential secrets had fixed, host-wide
// names (`stromboli-anthropic-api-key`…) and every server start synced them, so a second
// `stromboli serve` on the same podman host, over its own state directory, removed the first one's
// key when it had none, or replaced it with its own: the first server's next containers failed to
// start (podman: no such secret; the run stayed without a phase, retried with backoff) or
// authenticated with the other key (401 → Failed/ApiError). Seen here while other e2e suites ran.
// The names now carry the owner label (credentialSecretNames(owner)).
describe('two servers on one podman host', () => {
  it('a second server without credentials leaves the first server’s API key secret in place', async () => {
    const local = new Cleanup();
    try {
      const root = await mkdtemp(join(tmpdir(), 'stromboli-real-cli-second-'));
      local.add(`remove ${root}`, () => rm(root, { recursive: true, force: true }));
      await mkdir(join(root, 'runs'));
      const config = ServeConfigSchema.parse({ runsDir: join(root, 'runs'), stateDir: join(root, 'state'), port: 0, image: AGENT_IMAGE, containersConf: CONTAINERS_CONF });
      const second = await startEmbedded(config, createLogger({ level: 'error', destination: new LogLines().stream() }), { env: {} });
      await second.close();
    } finally {
      await local.run();
    }
    const secret = await runCommand('podman', ['secret', 'inspect', apiKeySecretOf(rc.owner)]);
    expect(secret.exitCode, `podman secret ${apiKeySecretOf(rc.owner)} of the first server was removed by the second: ${secret.stderr.trim()}`).toBe(0);

    const sessionId = randomUUID();
    rc.fake.script([{ kind: 'text', text: 'Still authenticated.' }]);
    await createRun('after-second-server', { prompt: 'Are you still there?', session: { id: sessionId } });
    const run = await waitForPhase(read('after-second-server'), 'Succeeded', 'Succeeded', { timeoutMs: 60_000 });
    expect(run.status?.result).toBe('Still authenticated.');
  });
});

// Regression (found by this suite, fixed in the reconciler): a run whose container cannot be
// created, here because spec.podman.secretsEnv names a podman secret that does not exist, once
// showed no phase, reason or message, ever. The runner now tells the missing secret before it
// creates anything, and the run ends Failed (SecretNotFound) with a message naming the secret.
describe('a container that podman cannot create', () => {
  it('says why in the run status when a secretsEnv names a missing podman secret, and starts no container', async () => {
    const missing = `stromboli-e2e-missing-${randomBytes(4).toString('hex')}`;
    await createRun('missing-secret', { prompt: 'Never starts.', podman: { secretsEnv: { GH_TOKEN: missing } } });
    const run = await waitForRun(read('missing-secret'), 'a status message naming the missing secret', (r) => r?.status?.message?.includes(missing) === true, { timeoutMs: 30_000 });
    expect(run?.status?.phase).toMatch(/^(Pending|Failed)$/);
    expect(await listContainers({ [Labels.uid]: run?.metadata.uid ?? '' }, { all: true })).toEqual([]);
  });
});
