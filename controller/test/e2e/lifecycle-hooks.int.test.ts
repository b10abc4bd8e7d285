// Lifecycle hooks (spec.podman.lifecycle), end to end with real podman and the fake Claude image:
// once-per-session hooks and their marker across two runs of one session, postStart on every run,
// fail-fast with HookFailed, hooksTimeout with HookTimeout, and the hooks' output in the run's
// log. runner/lifecycle.ts builds the launcher; docs/reconcile.md lists the reasons.
// Run: npx vitest run --project podman controller/test/e2e/lifecycle-hooks.int.test.ts
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import type { TestServer } from '../helpers/embedded-server.ts';
import { ensureFakeImage } from '../helpers/podman.ts';
import { agentRun, reasonOf, storeReader, waitForPhase, writeManifest } from '../helpers/runs.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

/** The run's log as GET …/log serves it (stdout of the attempt: the hooks' output, then the CLI's stream-json). */
async function logOf(ts: TestServer, name: string): Promise<string> {
  const res = await fetch(`${ts.url}/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns/${name}/log`);
  expect(res.status).toBe(200);
  return res.text();
}

// Both ways a container starts: the REST API of the node's podman service, and the podman CLI.
describe.each([
  ['REST API', {}],
  ['podman CLI', { podmanApi: 'off' as const }],
])('lifecycle hooks (%s)', (_path, overrides) => {
  it('runs onCreateCommand and postCreate once per session and postStart on every run, before Claude, with their output in the log', async () => {
    const dirs = await createTempDirs(cleanup, 'hooks');
    const ts = await startTestServer(cleanup, dirs, overrides);
    const session = randomUUID();
    const lifecycle = {
      onCreateCommand: ['echo "create in $PWD" >> "$HOME/hooks.log" && echo hello from onCreateCommand'],
      postCreate: ['echo post-create >> "$HOME/hooks.log"'],
      postStart: ["echo start >> \"$HOME/hooks.log\"; echo 'hello from postStart'"],
      hooksTimeout: '60s',
    };
    await writeManifest(dirs.runsDir, 'first.yaml', agentRun('first', { prompt: 'one', session: { id: session }, podman: { lifecycle } }));
    const first = await waitForPhase(storeReader(ts.get, 'first'), 'Succeeded', 'Succeeded', { timeoutMs: 90_000 });
    expect(first.status?.sessionId).toBe(session);
    const home = join(dirs.stateDir, 'sessions', session);
    expect(await readFile(join(home, '.stromboli-initialized'), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    await expect(stat(join(home, '.stromboli-init.lock'))).rejects.toThrow(/ENOENT/);
    const firstLog = await logOf(ts, 'first');
    expect(firstLog.indexOf('hello from onCreateCommand')).toBeGreaterThanOrEqual(0);
    expect(firstLog.indexOf('hello from postStart')).toBeGreaterThan(firstLog.indexOf('hello from onCreateCommand'));
    expect(firstLog.indexOf('"type":"result"')).toBeGreaterThan(firstLog.indexOf('hello from postStart'));

    // A second run of the same session: only postStart runs again.
    await writeManifest(dirs.runsDir, 'second.yaml', agentRun('second', { prompt: 'two', session: { id: session, resume: true }, podman: { lifecycle } }));
    await waitForPhase(storeReader(ts.get, 'second'), 'Succeeded', 'Succeeded', { timeoutMs: 90_000 });
    expect(await readFile(join(home, 'hooks.log'), 'utf8')).toBe('create in /workspace\npost-create\nstart\nstart\n');
    const secondLog = await logOf(ts, 'second');
    expect(secondLog).not.toContain('hello from onCreateCommand');
    expect(secondLog).toContain('hello from postStart');
  });

  it('fails fast: a failing hook ends the run Failed/HookFailed, names the hook, keeps its output, and Claude never runs', async () => {
    const dirs = await createTempDirs(cleanup, 'hooks-fail');
    const ts = await startTestServer(cleanup, dirs, overrides);
    await writeManifest(dirs.runsDir, 'broken.yaml', agentRun('broken', { prompt: 'never answered', podman: { lifecycle: { postStart: ['echo about to fail; exit 3', 'echo never printed'] } } }));
    const run = await waitForPhase(storeReader(ts.get, 'broken'), 'Failed', 'HookFailed', { timeoutMs: 90_000 });
    expect(run.status?.message).toContain('postStart[0] failed with exit code 3');
    expect(run.status?.result).toBeUndefined();
    const log = await logOf(ts, 'broken');
    expect(log).toContain('about to fail');
    expect(log).not.toContain('never printed');
    expect(log).not.toContain('"type":"result"');
  });

  it('ends hooks that run past hooksTimeout with Failed/HookTimeout', async () => {
    const dirs = await createTempDirs(cleanup, 'hooks-timeout');
    const ts = await startTestServer(cleanup, dirs, overrides);
    await writeManifest(dirs.runsDir, 'slow.yaml', agentRun('slow', { prompt: 'never answered', podman: { lifecycle: { postStart: ['echo waiting; sleep 60'], hooksTimeout: '2s' } } }));
    const run = await waitForPhase(storeReader(ts.get, 'slow'), 'Failed', 'HookTimeout', { timeoutMs: 90_000 });
    expect(reasonOf(run.status)).toBe('HookTimeout');
    expect(run.status?.message).toContain('the hooks ran past hooksTimeout (2s)');
    expect(await logOf(ts, 'slow')).toContain('waiting');
  });
});
