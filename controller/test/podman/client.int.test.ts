// PodmanClient against the real podman, with a tiny image built locally from /bin/busybox (no
// registry is reachable, nothing is pulled). Every container and secret gets a unique name and is
// removed in afterEach; waits poll podman's state, never sleep.
// Run: npx vitest run --project podman controller/test/podman/client.int.test.ts

import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExecaExecutor } from '../../src/exec/execa-executor.ts';
import type { ExecOptions, ExecResult, Executor, StreamHandle } from '../../src/exec/executor.ts';
import { PodmanClient, SECRET_VALUE_ENV } from '../../src/podman/client.ts';

const IMAGE = 'localhost/stromboli/test-busybox:latest';
const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const CONTAINERS_CONF = process.env['CONTAINERS_CONF'] ?? join(REPO_ROOT, 'config/containers.conf');
const SUITE = randomBytes(4).toString('hex');
const SUITE_LABEL = 'stromboli.test/client-int';

interface RecordedCall {
  kind: 'run' | 'stream';
  argv: readonly string[];
  options: ExecOptions;
}

/** Delegates to the real executor and records every call, so tests can assert what reached argv. */
class RecordingExecutor implements Executor {
  readonly calls: RecordedCall[] = [];
  readonly #inner: Executor;

  constructor(inner: Executor) {
    this.#inner = inner;
  }

  run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ kind: 'run', argv: [...argv], options: { ...options } });
    return this.#inner.run(argv, options);
  }

  stream(argv: readonly string[], options: ExecOptions = {}): StreamHandle {
    this.calls.push({ kind: 'stream', argv: [...argv], options: { ...options } });
    return this.#inner.stream(argv, options);
  }
}

const real = new ExecaExecutor();
const podmanEnv = { CONTAINERS_CONF };
const recorder = new RecordingExecutor(real);
const client = new PodmanClient({ executor: recorder, env: podmanEnv });

const containers = new Set<string>();
const secrets = new Set<string>();
let sequence = 0;

function uniqueName(kind: string): string {
  sequence += 1;
  const name = `strom-it-${SUITE}-${kind}-${sequence}`;
  if (kind === 'secret') secrets.add(name);
  else containers.add(name);
  return name;
}

/** A detached `podman run` of busybox with our suite label; `extra` goes before the image. */
function runArgs(name: string, script: string, extra: readonly string[] = [], labels: Record<string, string> = {}): string[] {
  const labelArgs = Object.entries({ [SUITE_LABEL]: SUITE, ...labels }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  return ['run', '--detach', '--pull=never', '--name', name, ...labelArgs, ...extra, IMAGE, '/bin/busybox', 'sh', '-c', script];
}

async function collect(handle: StreamHandle): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of handle.lines) lines.push(line);
  return lines;
}

beforeAll(async () => {
  const version = await real.run(['podman', '--version'], { env: podmanEnv });
  if (version.exitCode !== 0) {
    // The podman project needs podman; in CI a missing podman is a failure, not a skip.
    throw new Error(`podman is required for this suite (scripts/lib/podman.sh installs it); podman --version exited ${String(version.exitCode)}`);
  }
  const context = await mkdtemp(join(tmpdir(), 'stromboli-busybox-'));
  try {
    await copyFile('/bin/busybox', join(context, 'busybox'));
    await writeFile(join(context, 'Containerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\n');
    const build = await real.run(['podman', 'build', '--quiet', '--tag', IMAGE, context], { env: podmanEnv, timeoutMs: 120_000 });
    expect(build.exitCode, build.stderr).toBe(0);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
});

afterEach(async () => {
  for (const name of containers) await client.remove(name, { force: true });
  for (const name of secrets) await client.removeSecret(name);
  containers.clear();
  secrets.clear();
  recorder.calls.length = 0;
});

afterAll(async () => {
  // Nothing of this suite may be left behind (the image is shared and stays).
  expect(await client.listByLabel({ [SUITE_LABEL]: SUITE })).toEqual([]);
});

describe('PodmanClient with real podman: containers', () => {
  it('runs a detached container with labels, inspects it running and finds it by label', async () => {
    const name = uniqueName('run');
    const id = await client.run(runArgs(name, 'exec sleep 300', [], { 'stromboli.test/role': 'sleeper' }));
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const state = await client.inspect(name);
    expect(state).toMatchObject({ id, name, status: 'running', running: true, exitCode: undefined, finishedAt: undefined, image: IMAGE });
    expect(state?.labels).toMatchObject({ [SUITE_LABEL]: SUITE, 'stromboli.test/role': 'sleeper' });
    expect(Date.parse(state?.startedAt ?? '')).toBeGreaterThan(0);

    const found = await client.listByLabel({ [SUITE_LABEL]: SUITE, 'stromboli.test/role': 'sleeper' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ id, name, status: 'running', running: true });
    expect(await client.listByLabel({ [SUITE_LABEL]: SUITE, 'stromboli.test/role': 'nobody' })).toEqual([]);
  });

  it('follows the logs until the container exits, lines in order, then reports the exit code', async () => {
    const name = uniqueName('logs');
    await client.run(runArgs(name, 'for i in 1 2 3 4 5; do echo "line $i"; done; echo oops >&2; exit 7'));
    const handle = client.logs(name, { follow: true });
    expect(await collect(handle)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    expect(await handle.done).toMatchObject({ exitCode: 0, timedOut: false, aborted: false });

    await expect.poll(async () => (await client.inspect(name))?.status).toBe('exited');
    const state = await client.inspect(name);
    expect(state).toMatchObject({ running: false, exitCode: 7 });
    // podman takes the two times from different places (conmon and its own bookkeeping): a
    // container that exits at once can show finishedAt a few ms before startedAt. Both are real
    // times, and they agree within clock noise.
    const started = Date.parse(state?.startedAt ?? '');
    const finished = Date.parse(state?.finishedAt ?? '');
    expect(started).toBeGreaterThan(0);
    expect(finished).toBeGreaterThan(started - 1000);
  });

  it('ends a followed log stream through its signal while the container keeps running', async () => {
    const name = uniqueName('logsabort');
    await client.run(runArgs(name, 'echo ready; exec sleep 300'));
    const controller = new AbortController();
    const handle = client.logs(name, { follow: true, signal: controller.signal });
    const iterator = handle.lines[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 'ready' });
    controller.abort();
    expect(await handle.done).toMatchObject({ aborted: true });
    expect((await client.inspect(name))?.status).toBe('running');
  });

  it('stops a container (SIGKILL after the grace period: exit 137) and removes it', async () => {
    const name = uniqueName('stop');
    // busybox sleep as PID 1 ignores SIGTERM, so stop has to escalate to SIGKILL.
    await client.run(runArgs(name, 'exec sleep 300'));
    await client.stop(name, 1);
    expect(await client.inspect(name)).toMatchObject({ status: 'exited', running: false, exitCode: 137 });

    await client.remove(name);
    expect(await client.inspect(name)).toBeUndefined();
    expect(await client.containerExists(name)).toBe(false);
  });

  it('treats stop and remove of a missing container as done, and inspect of it as undefined', async () => {
    const name = `strom-it-${SUITE}-never-created`;
    await client.stop(name, 1);
    await client.remove(name);
    await client.remove(name, { force: true });
    expect(await client.inspect(name)).toBeUndefined();
  });

  it('refuses to remove a running container without force, and removes it with force', async () => {
    const name = uniqueName('force');
    await client.run(runArgs(name, 'exec sleep 300'));
    await expect(client.remove(name)).rejects.toMatchObject({ code: 'COMMAND_FAILED', exitCode: 2 });
    await client.remove(name, { force: true });
    expect(await client.inspect(name)).toBeUndefined();
  });

  it('fails a run whose name is taken with a COMMAND_FAILED error carrying exit 125', async () => {
    const name = uniqueName('dup');
    await client.run(runArgs(name, 'exec sleep 300'));
    await expect(client.run(runArgs(name, 'exec sleep 300'))).rejects.toMatchObject({ code: 'COMMAND_FAILED', exitCode: 125 });
  });

  it('tells a missing image from a present one from local storage alone (nothing is pulled)', async () => {
    const missing = `localhost/stromboli/missing-${SUITE}:latest`;
    expect(await client.imageExists(missing)).toBe(false);
    expect(recorder.calls.some((call) => call.argv[1] === 'pull' || call.argv[1] === 'run')).toBe(false);
    expect(await client.imageExists(IMAGE)).toBe(true);
    expect((await client.listImages()).some((image) => image.names.includes(IMAGE))).toBe(true);
  });

  it('reports a missing podman binary as UNAVAILABLE', async () => {
    const broken = new PodmanClient({ executor: real, podmanPath: '/nonexistent/podman', env: podmanEnv });
    await expect(broken.inspect('anything')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(broken.run(runArgs(`strom-it-${SUITE}-unavailable`, 'true'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('PodmanClient with real podman: secrets', () => {
  it('creates, finds, replaces and removes a secret without the value ever reaching argv', async () => {
    const name = uniqueName('secret');
    const first = `first-${randomBytes(12).toString('hex')}`;
    const second = `second-${randomBytes(12).toString('hex')}`;

    expect(await client.secretExists(name)).toBe(false);
    await client.createSecret(name, first);
    expect(await client.secretExists(name)).toBe(true);
    await client.createSecret(name, second); // replaces
    expect((await client.listSecrets()).filter((s) => s.name === name)).toHaveLength(1);

    // The value travels only in the environment of the two `secret create` commands, under
    // SECRET_VALUE_ENV; no argv carries it, and no other command's environment does.
    const creates = recorder.calls.filter((call) => call.argv[1] === 'secret' && call.argv[2] === 'create');
    expect(creates.map((call) => call.argv)).toEqual([
      ['podman', 'secret', 'create', '--env', name, SECRET_VALUE_ENV],
      ['podman', 'secret', 'create', '--env', name, SECRET_VALUE_ENV],
    ]);
    expect(creates.map((call) => call.options.env?.[SECRET_VALUE_ENV])).toEqual([first, second]);
    for (const call of recorder.calls) {
      expect(JSON.stringify(call.argv)).not.toContain(first);
      expect(JSON.stringify(call.argv)).not.toContain(second);
      if (!creates.includes(call)) expect(JSON.stringify(call.options)).not.toMatch(/first-|second-/);
    }

    await client.removeSecret(name);
    expect(await client.secretExists(name)).toBe(false);
    await client.removeSecret(name); // already gone: fine
  });

  it('gives a secret value to a container only through --secret NAME,type=env,target=VAR', async () => {
    const secret = uniqueName('secret');
    const value = `value-${randomBytes(12).toString('hex')}`;
    await client.createSecret(secret, 'old-value');
    await client.createSecret(secret, value);

    const name = uniqueName('secretuse');
    const args = runArgs(name, 'echo "got:$AGENT_TOKEN"', ['--secret', `${secret},type=env,target=AGENT_TOKEN`]);
    expect(args.some((arg) => arg.includes(value))).toBe(false);
    await client.run(args);
    expect(await collect(client.logs(name, { follow: true }))).toEqual([`got:${value}`]);

    // The value went only into the environment of one `secret create`; never into any argv.
    for (const call of recorder.calls) expect(JSON.stringify(call.argv)).not.toContain(value);
    const carriers = recorder.calls.filter((call) => JSON.stringify(call.options).includes(value));
    expect(carriers.map((call) => call.argv)).toEqual([['podman', 'secret', 'create', '--env', secret, SECRET_VALUE_ENV]]);
    // Our parsed view of the container does not carry it either (podman's raw inspect does:
    // Config.Env lists type=env secrets in podman 4.3, so the parse layer drops Config.Env).
    expect(JSON.stringify(await client.inspect(name))).not.toContain(value);
  });
});
