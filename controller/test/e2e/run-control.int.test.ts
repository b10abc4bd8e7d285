// Stopping a run from outside, end to end with real podman: `stromboli cancel` (spec.cancel=true),
// removing the manifest file, `stromboli delete` and the TTL of runs created with `stromboli apply`,
// `stromboli logs -f`, and a container removed behind our back (ContainerLost). docs/reconcile.md,
// "Decisions, in order" 1, 2, 4 and 8.
// Run: npx vitest run --project podman controller/test/e2e/run-control.int.test.ts
import { rm } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { Labels, containerEvents, containersOfRun, ensureFakeImage, podman } from '../helpers/podman.ts';
import { agentRun, apiReader, attemptLogPath, readLogEvents, reasonOf, runCli, storeReader, waitForGone, waitForPhase, waitForRun, writeManifest } from '../helpers/runs.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

describe('cancel', () => {
  it('stops the container, ends Cancelled, and stays Cancelled when the manifest changes later', async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'cancel');
    const ts = await startTestServer(cleanup, dirs);
    await writeManifest(dirs.runsDir, 'slow.yaml', agentRun('slow', { prompt: 'Take your time [fake:sleep=120]' }));
    const read = storeReader(ts.get, 'slow');
    const running = await waitForPhase(read, 'Running', 'Running');
    const uid = running.metadata.uid;
    expect((await containersOfRun(uid)).map((c) => c.state)).toEqual(['running']);

    const cli = await runCli(ts.url, ['cancel', 'slow']);
    expect(cli.error).toBeUndefined();
    expect(cli.out).toBe('agentrun.stromboli.dev/slow cancelled\n');

    const cancelled = await waitForPhase(read, 'Cancelled', 'Cancelled', { timeoutMs: 60_000 });
    expect(cancelled.spec).toMatchObject({ cancel: true });
    expect(cancelled.status?.completionTime).toBeDefined();
    // Stopped (SIGTERM, well before the 120 s sleep ends) and removed.
    await expect.poll(() => containersOfRun(uid), { timeout: 30_000 }).toEqual([]);

    // The user edits the manifest (a new spec without cancel): the overlay is dropped, the
    // generation goes up, and the controller records it without running anything again.
    await writeManifest(dirs.runsDir, 'slow.yaml', agentRun('slow', { prompt: 'Start over please [fake:sleep=1]' }));
    const edited = await waitForRun(read, 'the new generation to be observed', (r) => r !== undefined && r.metadata.generation > cancelled.metadata.generation && r.status?.observedGeneration === r.metadata.generation);
    expect(edited?.spec).not.toHaveProperty('cancel');
    expect(edited?.status?.phase).toBe('Cancelled');
    expect(reasonOf(edited?.status)).toBe('Cancelled');
    expect(await containersOfRun(uid)).toEqual([]);
    // Exactly one container was ever created for this run.
    const creates = (await containerEvents({ key: Labels.uid, value: uid }, since)).filter((e) => e.status === 'create');
    expect(creates).toHaveLength(1);
  });
});

describe('removing the manifest file mid-run', () => {
  it('stops and removes the container, the run disappears, its log stays', async () => {
    const dirs = await createTempDirs(cleanup, 'delete');
    const ts = await startTestServer(cleanup, dirs);
    const file = await writeManifest(dirs.runsDir, 'doomed.yaml', agentRun('doomed', { prompt: 'Run for a while [fake:sleep=120]' }));
    const read = storeReader(ts.get, 'doomed');
    const running = await waitForPhase(read, 'Running', 'Running');
    const uid = running.metadata.uid;
    expect((await containersOfRun(uid)).map((c) => c.state)).toEqual(['running']);
    expect(running.metadata.finalizers).toContain('stromboli.dev/container-cleanup');

    await rm(file);
    await waitForGone(read, { timeoutMs: 60_000 });
    // The finalizer held the run until its container was stopped and removed.
    expect(await containersOfRun(uid)).toEqual([]);
    expect(await apiReader(ts.url, 'doomed')()).toBeUndefined();
    const events = await readLogEvents(attemptLogPath(dirs.stateDir, running));
    expect(events.some((e) => e['type'] === 'system' && e['subtype'] === 'init')).toBe(true);
  });
});

describe('a container removed behind the controller\'s back', () => {
  // `podman rm --force` kills the container, then removes it. With the REST path the died event
  // can wake the run between the two: it then sees the kill (exit 137: Crashed), otherwise the
  // removal (ContainerLost). Both are what podman showed at that moment; either way the run ends
  // Failed, its message names what happened, and no container is left.
  it('ends the run Failed (ContainerLost, or Crashed when the kill is seen first)', async () => {
    const dirs = await createTempDirs(cleanup, 'lost');
    const ts = await startTestServer(cleanup, dirs);
    await writeManifest(dirs.runsDir, 'lost.yaml', agentRun('lost', { prompt: 'Vanish mid-run [fake:sleep=120]' }));
    const read = storeReader(ts.get, 'lost');
    const running = await waitForPhase(read, 'Running', 'Running');
    await podman(['rm', '--force', '--time', '0', running.status?.containerName ?? '']);
    const lost = await waitForPhase(read, 'Failed', undefined, { timeoutMs: 60_000 });
    const reason = reasonOf(lost.status);
    expect(['ContainerLost', 'Crashed']).toContain(reason);
    if (reason === 'ContainerLost') expect(lost.status?.message).toContain(running.status?.containerName ?? '');
    else expect(lost.status?.message).toContain('exit code 137, SIGKILL');
    expect(await containersOfRun(running.metadata.uid)).toEqual([]);
  });
});

/** Fails (instead of hanging until the test timeout) when `promise` takes longer than `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stromboli logs -f', () => {
  it('follows a running run and returns once it has ended, with the whole transcript', async () => {
    const dirs = await createTempDirs(cleanup, 'logs-follow');
    const ts = await startTestServer(cleanup, dirs);
    const prompt = 'Talk for three seconds [fake:sleep=3]';
    await writeManifest(dirs.runsDir, 'talk.yaml', agentRun('talk', { prompt }));
    await waitForPhase(storeReader(ts.get, 'talk'), 'Running', 'Running');

    const followed = await within(60_000, 'stromboli logs -f', runCli(ts.url, ['logs', 'talk', '-f']));
    expect(followed.error).toBeUndefined();
    const events = followed.out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: 'system', subtype: 'init' });
    expect(events.at(-1)).toMatchObject({ type: 'result', subtype: 'success', result: `echo: ${prompt}` });
    const done = await waitForPhase(storeReader(ts.get, 'talk'), 'Succeeded', 'Succeeded');
    expect(followed.out).toBe(`${(await readLogEvents(attemptLogPath(dirs.stateDir, done))).map((e) => JSON.stringify(e)).join('\n')}\n`);
  });
});

describe('runs created through the API (stromboli apply)', () => {
  it('stromboli delete stops and removes the running container, and the run goes', async () => {
    const dirs = await createTempDirs(cleanup, 'api-delete');
    const ts = await startTestServer(cleanup, dirs);
    const file = await writeManifest(dirs.root, 'applied.yaml', agentRun('applied', { prompt: 'Run until deleted [fake:sleep=120]' }));
    const applied = await runCli(ts.url, ['apply', '-f', file]);
    expect(applied.error).toBeUndefined();
    expect(applied.out).toBe('agentrun.stromboli.dev/applied created\n');
    const read = storeReader(ts.get, 'applied');
    const running = await waitForPhase(read, 'Running', 'Running');
    expect((await containersOfRun(running.metadata.uid)).map((c) => c.state)).toEqual(['running']);

    const deleted = await runCli(ts.url, ['delete', 'applied']);
    expect(deleted.error).toBeUndefined();
    await waitForGone(read, { timeoutMs: 60_000 });
    expect(await containersOfRun(running.metadata.uid)).toEqual([]);
  });

  it('deletes a finished run after ttlSecondsAfterFinished', async () => {
    const dirs = await createTempDirs(cleanup, 'api-ttl');
    const ts = await startTestServer(cleanup, dirs);
    const file = await writeManifest(dirs.root, 'short-lived.yaml', agentRun('short-lived', { prompt: 'Answer and go', ttlSecondsAfterFinished: 2 }));
    expect((await runCli(ts.url, ['apply', '-f', file])).error).toBeUndefined();
    const read = storeReader(ts.get, 'short-lived');
    const done = await waitForPhase(read, 'Succeeded', 'Succeeded');
    await waitForGone(read, { timeoutMs: 60_000 });
    expect(Date.now() - Date.parse(done.status?.completionTime ?? '')).toBeGreaterThanOrEqual(2_000);
    expect(await containersOfRun(done.metadata.uid)).toEqual([]);
  });

  it('keeps a manifest run past its ttlSecondsAfterFinished (the store never deletes a user file)', async () => {
    const dirs = await createTempDirs(cleanup, 'manifest-ttl');
    const ts = await startTestServer(cleanup, dirs);
    await writeManifest(dirs.runsDir, 'kept.yaml', agentRun('kept', { prompt: 'Answer and stay', ttlSecondsAfterFinished: 1 }));
    const read = storeReader(ts.get, 'kept');
    const done = await waitForPhase(read, 'Succeeded', 'Succeeded');
    // Poll past the TTL: the run is still there, unchanged, with no error logged for it.
    await waitForRun(read, 'the TTL to pass', (r) => r !== undefined && Date.now() - Date.parse(done.status?.completionTime ?? '') > 3_000);
    expect((await read())?.status?.phase).toBe('Succeeded');
    expect(ts.logs.lines.filter((l) => l['key'] === 'default/kept' && Number(l['level']) >= 40)).toEqual([]);
  });
});
