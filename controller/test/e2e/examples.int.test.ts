// The examples are runnable: `stromboli serve` (in-process, defaults apart from port 0) over a temp
// copy of examples/ runs every manifest with real podman and the fake Claude image, and each run
// ends in the phase (and reason) its stromboli.dev/expected-phase / expected-reason annotations
// state, as kopf's E2E markers do (STYLE.md §5, "E2E through examples/").
// Run: npx vitest run --project podman controller/test/e2e/examples.int.test.ts
import { cp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AgentRunManifestSchema } from '../../../contract/apis/v1alpha1/index.ts';
import type { AgentRunManifest, Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { startTestServer } from '../helpers/embedded-server.ts';
import { ensureFakeImage } from '../helpers/podman.ts';
import { storeReader, waitForPhase } from '../helpers/runs.ts';
import { EXAMPLES_DIR } from '../helpers/repo.ts';
import { createTempDirs } from '../helpers/temp-dirs.ts';

const cleanup = new Cleanup();

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

interface Expectation {
  file: string;
  manifest: AgentRunManifest;
  phase: Phase;
  reason: string | undefined;
}

async function expectations(): Promise<Expectation[]> {
  const files = (await readdir(EXAMPLES_DIR, { recursive: true })).filter((f) => /\.ya?ml$/i.test(f)).sort();
  const out: Expectation[] = [];
  for (const file of files) {
    const parsed = parseAllDocuments(await readFile(join(EXAMPLES_DIR, file), 'utf8'));
    for (const doc of Array.isArray(parsed) ? parsed : [parsed]) {
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      // examples.test.ts (unit) checks the schema and the annotations with better messages.
      const manifest = AgentRunManifestSchema.parse(value);
      const phase = manifest.metadata.annotations?.['stromboli.dev/expected-phase'] as Phase | undefined;
      if (phase === undefined) throw new Error(`${file} ${manifest.metadata.name}: no stromboli.dev/expected-phase annotation`);
      out.push({ file, manifest, phase, reason: manifest.metadata.annotations?.['stromboli.dev/expected-reason'] });
    }
  }
  return out;
}

describe('examples/', () => {
  it('every example run ends in the phase and reason it declares', async () => {
    const expected = await expectations();
    expect(expected.length, 'examples/ holds no manifests: nothing would be tested').toBeGreaterThan(0);
    const dirs = await createTempDirs(cleanup, 'examples');
    await cp(EXAMPLES_DIR, dirs.runsDir, { recursive: true });
    const ts = await startTestServer(cleanup, dirs);

    const outcomes = await Promise.allSettled(
      expected.map(async ({ file, manifest, phase, reason }) => {
        const run = await waitForPhase(storeReader(ts.get, manifest.metadata.name), phase, reason, { timeoutMs: 150_000 });
        const schema = manifest.spec.claude?.jsonSchema;
        if (schema !== undefined && phase === 'Succeeded') {
          // Structured output: every property the schema names is in status.structuredOutput.
          const properties = Object.keys((JSON.parse(schema) as { properties?: Record<string, unknown> }).properties ?? {});
          const output = run.status?.structuredOutput;
          expect(output, `${file} ${manifest.metadata.name}: status.structuredOutput`).toBeTypeOf('object');
          expect(Object.keys(output as Record<string, unknown>).sort()).toEqual(properties.sort());
        }
        return `${manifest.metadata.name}: ${phase}${reason === undefined ? '' : `/${reason}`}`;
      }),
    );
    const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`${expected[i]?.file} ${expected[i]?.manifest.metadata.name}: ${String(o.reason)}`] : []));
    expect(failures).toEqual([]);
    // Every document became a run, and no manifest was reported as a problem.
    expect((await ts.server.store.list()).map((r) => r.metadata.name).sort()).toEqual(expected.map((e) => e.manifest.metadata.name).sort());
    expect(ts.server.store.problems()).toEqual([]);
  });
});
