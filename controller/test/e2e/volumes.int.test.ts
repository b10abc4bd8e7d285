// Volumes against the host-path allowlist (--allowed-volume), with real podman: a refused volume
// ends the run Failed/VolumeNotAllowed before anything is created; an allowed one is mounted.
// docs/reconcile.md, "Starting a container"; controller/src/runner/workspace.ts.
// Run: npx vitest run --project podman controller/test/e2e/volumes.int.test.ts
import { chmod, mkdir, realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { Labels, containerEvents, containersOfRun, ensureFakeImage, inspectContainer } from '../helpers/podman.ts';
import { agentRun, attemptLogPath, readLogEvents, storeReader, waitForPhase, writeManifest } from '../helpers/runs.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

interface Mount {
  Source?: string;
  Destination?: string;
  RW?: boolean;
}

describe('volumes', () => {
  it('refuses a volume outside the allowlist (also through a symlink) with VolumeNotAllowed, and creates no container', async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'vol-refused');
    const allowed = join(dirs.root, 'allowed');
    const outside = join(dirs.root, 'outside');
    await mkdir(allowed);
    await mkdir(outside);
    await symlink(outside, join(allowed, 'escape'));
    const ts = await startTestServer(cleanup, dirs, { allowedVolumes: [allowed] });
    await writeManifest(
      dirs.runsDir,
      'refused.yaml',
      agentRun('outside', { prompt: 'Read the data [fake:sleep=2]', podman: { volumes: [`${outside}:/data`] } }),
      agentRun('via-symlink', { prompt: 'Read the data [fake:sleep=2]', podman: { volumes: [`${allowed}/escape:/data`] } }),
    );

    for (const name of ['outside', 'via-symlink']) {
      const run = await waitForPhase(storeReader(ts.get, name), 'Failed', 'VolumeNotAllowed');
      expect(run.status?.message).toContain('outside the volume allowlist');
      // The resolved target of a symlink is not disclosed.
      if (name === 'via-symlink') expect(run.status?.message).not.toContain(outside);
      expect(run.status?.containerName).toBeUndefined();
      expect(await containersOfRun(run.metadata.uid)).toEqual([]);
      const events = await containerEvents({ key: Labels.uid, value: run.metadata.uid }, since);
      expect(events).toEqual([]);
    }
    expect(ts.logs.withMessage('container started')).toEqual([]);
  });

  it('mounts a volume inside the allowlist and the run succeeds in it', async () => {
    const dirs = await createTempDirs(cleanup, 'vol-allowed');
    const allowed = join(dirs.root, 'allowed');
    const work = join(allowed, 'work');
    await mkdir(work, { recursive: true });
    // The container user (1000) must be able to enter its working directory.
    await chmod(work, 0o777);
    const ts = await startTestServer(cleanup, dirs, { allowedVolumes: [allowed] });
    await writeManifest(
      dirs.runsDir,
      'mounted.yaml',
      agentRun('mounted', { prompt: 'Work in the volume [fake:sleep=4]', workdir: '/work', podman: { volumes: [`${work}:/work`, `${allowed}:/reference:ro`] } }),
    );

    const read = storeReader(ts.get, 'mounted');
    const running = await waitForPhase(read, 'Running', 'Running');
    const name = running.status?.containerName;
    if (name === undefined) throw new Error('no containerName while Running');
    const inspected = await inspectContainer(name);
    const mounts = ((inspected?.['Mounts'] as Mount[] | undefined) ?? []).map((m) => ({ source: m.Source, destination: m.Destination, rw: m.RW }));
    expect(mounts).toEqual(
      expect.arrayContaining([
        { source: await realpath(work), destination: '/work', rw: true },
        { source: await realpath(allowed), destination: '/reference', rw: false },
      ]),
    );

    const done = await waitForPhase(read, 'Succeeded', 'Succeeded');
    // The fake reports its working directory in the init event: the mounted volume.
    const events = await readLogEvents(attemptLogPath(dirs.stateDir, done));
    const init = events.find((e) => e['type'] === 'system' && e['subtype'] === 'init');
    expect(init?.['cwd']).toBe('/work');
  });
});
