import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../../../contract/errors.ts';
import { clearSecretValues, registerSecretValue } from '../../../contract/redact.ts';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanClient } from '../podman/client.ts';
import { LogStore } from './log-store.ts';
import { PodmanAgentRunner } from './podman-runner.ts';
import { SessionDirs } from './session.ts';
import type { StartRequest } from './types.ts';

const SESSION = '0b7c6a1e-1111-4222-8333-944455556666';
let dir: string;
let executor: FakeExecutor;
let runner: PodmanAgentRunner;

const run = { namespace: 'default', name: 'demo', uid: 'uid-1' };
function request(spec: StartRequest['spec'], over: Partial<StartRequest> = {}): StartRequest {
  return { run, attempt: 1, containerName: 'stromboli-demo-abc', sessionId: SESSION, resume: false, spec, deadlineSeconds: 60, ...over };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-'));
  executor = new FakeExecutor();
  runner = new PodmanAgentRunner({
    podman: new PodmanClient({ executor }),
    logs: new LogStore({ root: join(dir, 'logs') }),
    sessions: new SessionDirs({ root: join(dir, 'sessions') }),
    owner: 'embedded-test',
    defaultImage: 'localhost/stromboli/agent:latest',
    allowedVolumes: [dir],
    env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' },
    credentials: [{ secret: 'stromboli-anthropic-api-key', target: 'ANTHROPIC_API_KEY' }],
  });
});
afterEach(async () => {
  // A follower may still be closing its log file: retry the removal briefly.
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
});

describe('PodmanAgentRunner.prepare', () => {
  it('builds the full, hardened container spec: session HOME, secrets by name, labels, limits, backstop timeout', async () => {
    const spec = await runner.prepare(
      request({
        prompt: 'fix it',
        workdir: '/workspace',
        claude: { model: 'sonnet', maxTurns: 3, promptCachingTtl: '1h' },
        podman: { volumes: [`${dir}:/workspace`], secretsEnv: { GH_TOKEN: 'gh-token' }, memory: '1g' },
      }),
      '/state/sessions/x',
    );
    expect(spec).toEqual({
      name: 'stromboli-demo-abc',
      image: 'localhost/stromboli/agent:latest',
      command: ['-p', '--session-id', SESSION, '--model', 'sonnet', '--output-format', 'stream-json', '--max-turns', '3', '--verbose', '--', 'fix it'],
      labels: {
        'stromboli.dev/attempt': '1',
        'stromboli.dev/managed': 'true',
        'stromboli.dev/name': 'demo',
        'stromboli.dev/namespace': 'default',
        'stromboli.dev/owner': 'embedded-test',
        'stromboli.dev/session': SESSION,
        'stromboli.dev/uid': 'uid-1',
      },
      env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', ENABLE_PROMPT_CACHING_1H: '1', HOME: '/home/user' },
      secrets: [
        { name: 'stromboli-anthropic-api-key', target: 'ANTHROPIC_API_KEY' },
        { name: 'gh-token', target: 'GH_TOKEN' },
      ],
      mounts: [{ source: '/state/sessions/x', target: '/home/user' }, expect.objectContaining({ source: dir, target: '/workspace' })],
      user: '1000:1000',
      workdir: '/workspace',
      memory: '1g',
      cpus: '1',
      pidsLimit: 256,
      timeoutSeconds: 90,
      detach: true,
    });
  });

  it('refuses a volume outside the allowlist before anything is created', async () => {
    executor.onRun({ prefix: ['podman', 'container', 'inspect'] }, { exitCode: 125, stdout: '[]' });
    executor.onRun({ prefix: ['podman', 'container', 'exists'] }, { exitCode: 1 });
    const error = await runner.start(request({ prompt: 'x', podman: { volumes: ['/etc:/data'] } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerminalError);
    expect((error as TerminalError).reason).toBe('VolumeNotAllowed');
    expect(await stat(join(dir, 'sessions', SESSION)).catch(() => undefined)).toBeUndefined();
    expect(executor.calls.filter((c) => c.argv.includes('run'))).toHaveLength(0);
  });

  it('refuses stdin-only input formats with a reason', async () => {
    await expect(runner.prepare(request({ prompt: 'x', claude: { inputFormat: 'stream-json' } }), '/s')).rejects.toMatchObject({ reason: 'InvalidSpec' });
  });

  it('refuses a workdir podman could not enter (not /workspace, HOME or a mounted volume)', async () => {
    await expect(runner.prepare(request({ prompt: 'x', workdir: '/srv/app' }), '/s')).rejects.toMatchObject({ reason: 'InvalidWorkdir' });
    await expect(runner.prepare(request({ prompt: 'x', workdir: '/workspace' }), '/s')).resolves.toMatchObject({ workdir: '/workspace' });
    await expect(runner.prepare(request({ prompt: 'x', workdir: '/data/x', podman: { volumes: [`${dir}:/data`] } }), '/s')).resolves.toMatchObject({ workdir: '/data/x' });
  });
});

describe('PodmanAgentRunner.start', () => {
  it('ends StartFailed (terminal) when podman cannot invoke the container command (exit 126), removing the container it left behind', async () => {
    const created = await readFile(new URL('../podman/fixtures/inspect-created.json', import.meta.url), 'utf8');
    executor.onRun({ prefix: ['podman', 'container', 'inspect'] }, { exitCode: 0, stdout: created });
    executor.onRun({ prefix: ['podman', 'container', 'exists'] }, { exitCode: 1 });
    executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 0 });
    executor.onRun({ prefix: ['podman', 'run'] }, { exitCode: 126, stderr: 'Error: workdir "/x" does not exist on container abc\n' });
    executor.onRun({ prefix: ['podman', '--version'] }, { exitCode: 0, stdout: 'podman version 4.3.1' });
    executor.onRun({ prefix: ['podman', 'rm'] }, { exitCode: 0 });
    const error = await runner.start(request({ prompt: 'x' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'StartFailed' });
    expect((error as Error).message).toContain('workdir "/x" does not exist');
    expect(executor.calls.some((c) => c.argv[1] === 'rm')).toBe(true);
  });

  it('adopts, instead of failing or removing, a running container that won a race for the name', async () => {
    const running = await readFile(new URL('../podman/fixtures/inspect-running.json', import.meta.url), 'utf8');
    executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 0 });
    executor.onRun({ prefix: ['podman', 'run'] }, { exitCode: 125, stderr: 'Error: name is in use\n' });
    executor.onRun({ prefix: ['podman', 'container', 'inspect'] }, { exitCode: 0, stdout: running });
    executor.onStream({ prefix: ['podman', 'logs'] }, { lines: [] });
    await expect(runner.start(request({ prompt: 'x' }))).resolves.toBeUndefined();
    expect(executor.calls.some((c) => c.argv[1] === 'rm')).toBe(false);
    await runner.collect(run, 1, 'stromboli-demo-abc'); // the follower's writes end before the temp dir goes
  });

  it("waits (TransientError) while another running container holds the session's init lock, and takes over a lock whose container is gone", async () => {
    const lifecycle = { onCreateCommand: ['make setup'] };
    const running = await readFile(new URL('../podman/fixtures/inspect-running.json', import.meta.url), 'utf8');
    const home = join(dir, 'sessions', SESSION);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, '.stromboli-init.lock'), 'stromboli-other-run-1\n');
    executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 0 });
    executor.onRun({ prefix: ['podman', 'container', 'inspect', '--format', 'json', 'stromboli-other-run-1'] }, { exitCode: 0, stdout: running }, { times: 1 });
    const busy = await runner.start(request({ prompt: 'x', podman: { lifecycle } })).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(TransientError);
    expect((busy as Error).message).toContain('session initialization in progress: container stromboli-other-run-1');
    expect(executor.calls.some((c) => c.argv[1] === 'run')).toBe(false);

    // The holder is gone: the lock is taken over and the container starts with the hooks' launcher.
    executor.onRun({ prefix: ['podman', 'container', 'inspect', '--format', 'json', 'stromboli-other-run-1'] }, { exitCode: 125, stdout: '[]' });
    executor.onRun({ prefix: ['podman', 'run'] }, { exitCode: 0, stdout: `${'a'.repeat(64)}\n` });
    executor.onStream({ prefix: ['podman', 'logs'] }, { lines: [] });
    await runner.start(request({ prompt: 'x', podman: { lifecycle } }));
    expect(await readFile(join(home, '.stromboli-init.lock'), 'utf8')).toBe('stromboli-demo-abc\n');
    const argv = executor.calls.find((c) => c.argv[1] === 'run')?.argv ?? [];
    expect(JSON.parse(argv[argv.indexOf('--entrypoint') + 1] ?? '[]')).toEqual(expect.arrayContaining(['/bin/sh', '-c', 'stromboli-hooks']));
    expect(argv.slice(argv.indexOf('localhost/stromboli/agent:latest') + 1, argv.indexOf('localhost/stromboli/agent:latest') + 3)).toEqual(['claude', '-p']);
    await runner.collect(run, 1, 'stromboli-demo-abc');

    // Once the session has its marker, no lock is taken at all.
    await rm(join(home, '.stromboli-init.lock'));
    await writeFile(join(home, '.stromboli-initialized'), '2026-12-08T00:00:00Z\n');
    await runner.start(request({ prompt: 'x', podman: { lifecycle } }, { attempt: 2, containerName: 'stromboli-demo-abc-2' }));
    await expect(stat(join(home, '.stromboli-init.lock'))).rejects.toThrow(/ENOENT/);
    await runner.collect(run, 2, 'stromboli-demo-abc-2');
  });

  it('fails ImageNotFound, naming the build command, when the image is not local', async () => {
    executor.onRun({ prefix: ['podman', 'container', 'exists'] }, { exitCode: 1 });
    executor.onRun({ prefix: ['podman', 'container', 'inspect'] }, { exitCode: 125, stdout: '[]' });
    executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 1 });
    const error = await runner.start(request({ prompt: 'x' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'ImageNotFound', code: 'IMAGE_NOT_FOUND' });
    expect(String((error as Error).message)).toContain('stromboli images build');
  });

  it('runs podman detached with no secret value anywhere in argv, and persists the output it follows', async () => {
    executor.onRun({ prefix: ['podman', 'container', 'exists'] }, { exitCode: 1 });
    executor.onRun({ prefix: ['podman', 'container', 'inspect'] }, { exitCode: 125, stdout: '[]' });
    executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 0 });
    executor.onRun({ prefix: ['podman', 'run'] }, { exitCode: 0, stdout: `${'a'.repeat(64)}\n` });
    executor.onStream({ prefix: ['podman', 'logs'] }, { lines: ['{"type":"system","subtype":"init","session_id":"s"}', '{"type":"result","subtype":"success","result":"ok"}'] });
    const ended: string[] = [];
    runner = new PodmanAgentRunner({
      podman: new PodmanClient({ executor }),
      logs: new LogStore({ root: join(dir, 'logs') }),
      sessions: new SessionDirs({ root: join(dir, 'sessions') }),
      owner: 'o',
      credentials: [{ secret: 'stromboli-anthropic-api-key', target: 'ANTHROPIC_API_KEY' }],
      onOutputEnd: (r) => ended.push(r.name),
    });
    await runner.start(request({ prompt: 'x' }));
    const runCall = executor.calls.find((c) => c.argv[1] === 'run');
    expect(runCall?.argv).toContain('--secret');
    expect(runCall?.argv).toContain('stromboli-anthropic-api-key,type=env,target=ANTHROPIC_API_KEY');
    expect(runCall?.argv.join(' ')).not.toMatch(/ANTHROPIC_API_KEY=/);
    expect(runCall?.argv).toEqual(expect.arrayContaining(['--pull', 'never', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges']));
    await expect.poll(() => ended).toEqual(['demo']);
    const record = await runner.collect(run, 1, 'stromboli-demo-abc');
    expect(record.summary.result?.result).toBe('ok');
    expect((await readFile(runner.logPath(run, 1), 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('scrubs known secret values from the transcript and stderr it keeps', async () => {
    const secret = 'sk-ant-test-value-0123456789';
    registerSecretValue(secret);
    try {
      executor.onRun({ prefix: ['podman', 'image', 'exists'] }, { exitCode: 0 });
      executor.onRun({ prefix: ['podman', 'run'] }, { exitCode: 0, stdout: `${'a'.repeat(64)}\n` });
      executor.onStream({ prefix: ['podman', 'logs'] }, { lines: [`{"type":"assistant","text":"the key is ${secret}"}`], result: { stderr: `leaked ${secret}\n` } });
      await runner.start(request({ prompt: 'x' }));
      const record = await runner.collect(run, 1, 'stromboli-demo-abc');
      const kept = await readFile(runner.logPath(run, 1), 'utf8');
      expect(kept).toContain('the key is ***');
      expect(kept).not.toContain(secret);
      expect(record.stderrTail).toBe('leaked ***\n');
    } finally {
      clearSecretValues();
    }
  });
});
