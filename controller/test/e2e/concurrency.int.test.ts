// --max-concurrent-runs holds with real podman: ten slow runs, a limit of three. Measured two
// ways: by polling `podman ps` by the server's owner label while the runs go, and exactly from
// podman's own start/died events afterwards. docs/reconcile.md, decision 5.
// Run: npx vitest run --project podman controller/test/e2e/concurrency.int.test.ts
import { rm } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { Labels, containerEvents, containersOfRun, ensureFakeImage, runningContainersOf } from '../helpers/podman.ts';
import { agentRun, runCli, storeReader, waitForGone, waitForPhase, writeManifest } from '../helpers/runs.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();
const RUNS = 10;
const LIMIT = 3;

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

/** Polls `podman ps` for the owner's running containers until stopped; keeps the counts seen. */
function sampleRunning(owner: string, everyMs: number): { counts: number[]; errors: unknown[]; stop: () => Promise<void> } {
  const counts: number[] = [];
  const errors: unknown[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    inFlight = runningContainersOf(owner)
      .then((list) => {
        counts.push(list.length);
      })
      .catch((err: unknown) => {
        errors.push(err);
      })
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  return {
    counts,
    errors,
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}

describe('the concurrency limit', () => {
  it(`never runs more than ${LIMIT} of ${RUNS} slow runs at once; the others wait Pending/Queued and all succeed`, async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'limit');
    const names = Array.from({ length: RUNS }, (_, i) => `slow-${String(i).padStart(2, '0')}`);
    const ts = await startTestServer(cleanup, dirs, { maxConcurrentRuns: LIMIT });

    // Every status written, from the store's watch: which runs waited, and in which phase.
    const watch = new AbortController();
    cleanup.add('stop watching the store', () => watch.abort());
    const queuedPhases = new Map<string, string | undefined>();
    const watching = (async () => {
      for await (const event of ts.server.store.watch(watch.signal)) {
        if (reasonOf(event.object.status) === 'Queued') queuedPhases.set(event.object.metadata.name, event.object.status?.phase);
      }
    })();
    const sampler = sampleRunning(ts.owner, 200);
    cleanup.add('stop sampling podman ps', () => sampler.stop());

    await writeManifest(dirs.runsDir, 'slow-runs.yaml', ...names.map((name) => agentRun(name, { prompt: `Take four seconds, ${name} [fake:sleep=4]` })));
    for (const name of names) await waitForPhase(storeReader(ts.get, name), 'Succeeded', 'Succeeded', { timeoutMs: 150_000 });

    await sampler.stop();
    watch.abort();
    await watching;
    expect(sampler.errors).toEqual([]);
    expect(sampler.counts.length).toBeGreaterThan(20);
    expect(Math.max(...sampler.counts)).toBeLessThanOrEqual(LIMIT);
    // The limit was reached, so the check above was not vacuous.
    expect(Math.max(...sampler.counts)).toBe(LIMIT);

    // Exact, from podman's event log: replay start/died of this server's containers.
    const events = await containerEvents({ key: Labels.owner, value: ts.owner }, since);
    expect(events.filter((e) => e.status === 'create')).toHaveLength(RUNS);
    let running = 0;
    let peak = 0;
    for (const e of [...events].sort((a, b) => a.time.localeCompare(b.time))) {
      if (e.status === 'start') running += 1;
      if (e.status === 'died') running -= 1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBe(LIMIT);

    // At least RUNS - LIMIT runs had to wait, and waiting runs are Pending with reason Queued.
    expect(queuedPhases.size).toBeGreaterThanOrEqual(RUNS - LIMIT);
    expect([...new Set(queuedPhases.values())]).toEqual(['Pending']);
  });
});

describe('the order of waiting runs', () => {
  it('gives a freed slot to the higher priority first, even when it was created later', async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'priority');
    const ts = await startTestServer(cleanup, dirs, { maxConcurrentRuns: 1 });
    await writeManifest(dirs.runsDir, 'blocker.yaml', agentRun('blocker', { prompt: 'Hold the only slot [fake:sleep=8]' }));
    await waitForPhase(storeReader(ts.get, 'blocker'), 'Running', 'Running');
    await writeManifest(dirs.runsDir, 'low.yaml', agentRun('low', { prompt: 'Low priority [fake:sleep=1]', priority: -5 }));
    await waitForPhase(storeReader(ts.get, 'low'), 'Pending', 'Queued');
    await writeManifest(dirs.runsDir, 'high.yaml', agentRun('high', { prompt: 'High priority [fake:sleep=1]', priority: 10 }));
    await waitForPhase(storeReader(ts.get, 'high'), 'Pending', 'Queued');

    const high = await waitForPhase(storeReader(ts.get, 'high'), 'Succeeded', 'Succeeded');
    const low = await waitForPhase(storeReader(ts.get, 'low'), 'Succeeded', 'Succeeded');
    expect(Date.parse(high.status?.startTime ?? '')).toBeLessThan(Date.parse(low.status?.startTime ?? ''));
    const creates = (await containerEvents({ key: Labels.owner, value: ts.owner }, since))
      .filter((e) => e.status === 'create')
      .sort((a, b) => a.time.localeCompare(b.time))
      .map((e) => e.name.replace(/-[0-9a-f]{12}$/, ''));
    expect(creates).toEqual(['stromboli-blocker', 'stromboli-high', 'stromboli-low']);
  });
});

describe('runs that leave the line', () => {
  it('a cancelled or deleted queued run never starts, and the running one is not disturbed', async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'leave-line');
    const ts = await startTestServer(cleanup, dirs, { maxConcurrentRuns: 1 });
    await writeManifest(dirs.runsDir, 'blocker.yaml', agentRun('blocker', { prompt: 'Hold the only slot [fake:sleep=8]' }));
    await waitForPhase(storeReader(ts.get, 'blocker'), 'Running', 'Running');
    await writeManifest(dirs.runsDir, 'to-cancel.yaml', agentRun('to-cancel', { prompt: 'Never mind [fake:sleep=1]' }));
    const leaver = await writeManifest(dirs.runsDir, 'to-delete.yaml', agentRun('to-delete', { prompt: 'Never mind either [fake:sleep=1]' }));
    const toCancel = await waitForPhase(storeReader(ts.get, 'to-cancel'), 'Pending', 'Queued');
    const toDelete = await waitForPhase(storeReader(ts.get, 'to-delete'), 'Pending', 'Queued');

    expect((await runCli(ts.url, ['cancel', 'to-cancel'])).error).toBeUndefined();
    await rm(leaver);
    const cancelled = await waitForPhase(storeReader(ts.get, 'to-cancel'), 'Cancelled', 'Cancelled');
    expect(cancelled.status?.containerName).toBeUndefined();
    await waitForGone(storeReader(ts.get, 'to-delete'));
    expect((await storeReader(ts.get, 'blocker')())?.status?.phase).toBe('Running');

    await waitForPhase(storeReader(ts.get, 'blocker'), 'Succeeded', 'Succeeded');
    for (const uid of [toCancel.metadata.uid, toDelete.metadata.uid]) {
      expect(await containersOfRun(uid)).toEqual([]);
      expect(await containerEvents({ key: Labels.uid, value: uid }, since)).toEqual([]);
    }
  });
});
