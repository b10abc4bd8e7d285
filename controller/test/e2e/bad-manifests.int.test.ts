// A broken manifest never stops the other runs (docs/file-store.md, "What is reported";
// docs/reconcile.md, decision 3): a YAML syntax error is listed by `stromboli get` with its path
// and error, an AgentRun with an invalid spec ends Failed/InvalidSpec, and a good run beside
// them succeeds, with real podman.
// Run: npx vitest run --project podman controller/test/e2e/bad-manifests.int.test.ts
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { Labels, containerEvents, ensureFakeImage } from '../helpers/podman.ts';
import { agentRun, runCli, storeReader, waitForPhase, writeManifest } from '../helpers/runs.ts';
import { FAKE_IMAGE } from '../helpers/repo.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

const BROKEN_YAML = `apiVersion: stromboli.dev/v1alpha1
kind: AgentRun
metadata:
  name: broken
spec:
  prompt: [this flow sequence is never closed
  podman:
    image: ${FAKE_IMAGE}
`;

describe('bad manifests beside a good one', () => {
  it('lists the broken file with its error, fails the invalid spec, and runs the good one', async () => {
    const since = new Date();
    const dirs = await createTempDirs(cleanup, 'bad-manifests');
    const ts = await startTestServer(cleanup, dirs);
    await writeFile(join(dirs.runsDir, 'broken.yaml'), BROKEN_YAML);
    await writeManifest(dirs.runsDir, 'invalid.yaml', agentRun('invalid', { prompt: 'Count to many', claude: { maxTurns: 'many' } }));
    await writeManifest(dirs.runsDir, 'good.yaml', agentRun('good', { prompt: 'All is well' }));

    const good = await waitForPhase(storeReader(ts.get, 'good'), 'Succeeded', 'Succeeded');
    expect(good.status?.result).toBe('echo: All is well');

    const invalid = await waitForPhase(storeReader(ts.get, 'invalid'), 'Failed', 'InvalidSpec');
    expect(invalid.status?.message).toContain('spec.claude.maxTurns');
    const invalidEvents = await containerEvents({ key: Labels.uid, value: invalid.metadata.uid }, since);
    expect(invalidEvents).toEqual([]);

    // The broken file is no run, and `stromboli get` says which file and why.
    expect(await storeReader(ts.get, 'broken')()).toBeUndefined();
    const table = await runCli(ts.url, ['get']);
    expect(table.error).toBeUndefined();
    expect(table.out).toMatch(/^good\s+Succeeded\s+Succeeded\s/m);
    expect(table.out).toMatch(/^invalid\s+Failed\s+InvalidSpec\s/m);
    expect(table.out).toContain('Manifests that could not be read:');
    const problemLine = table.out.split('\n').find((line) => line.includes('broken.yaml'));
    expect(problemLine, table.out).toBeDefined();
    expect(problemLine?.trim()).toMatch(/broken\.yaml: \S+/);

    const json = await runCli(ts.url, ['get', '-o', 'json']);
    const list = JSON.parse(json.out) as { items: Array<{ metadata: { name: string } }>; problems: Array<{ path: string; error: string }> };
    expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['good', 'invalid']);
    expect(list.problems).toHaveLength(1);
    expect(list.problems[0]?.path).toMatch(/broken\.yaml$/);
    expect(list.problems[0]?.error).not.toBe('');

    // Fixing the file turns it into a run, and the problem goes away.
    await writeManifest(dirs.runsDir, 'broken.yaml', agentRun('broken', { prompt: 'Fixed now' }));
    await waitForPhase(storeReader(ts.get, 'broken'), 'Succeeded', 'Succeeded');
    expect(ts.server.store.problems()).toEqual([]);
  });
});
