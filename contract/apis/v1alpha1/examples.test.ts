// Every document of examples/**/*.yaml is a valid AgentRun (STYLE.md §5, "Schemas"), states the
// outcome the e2e suite checks (stromboli.dev/expected-phase, optionally expected-reason) with
// known values, and has a name of its own, since controller/test/e2e/examples.int.test.ts runs
// them all in one directory.
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AgentRunManifestSchema, Phases, Reasons, describeZodError } from './index.ts';

const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples', import.meta.url));
const EXPECTED_PHASE = 'stromboli.dev/expected-phase';
const EXPECTED_REASON = 'stromboli.dev/expected-reason';

interface ExampleDoc {
  /** `<file relative to examples/>#<1-based document>` */
  where: string;
  value: unknown;
}

async function exampleDocs(): Promise<ExampleDoc[]> {
  const files = (await readdir(EXAMPLES_DIR, { recursive: true }))
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort();
  const docs: ExampleDoc[] = [];
  for (const file of files) {
    const path = join(EXAMPLES_DIR, file);
    const parsed = parseAllDocuments(await readFile(path, 'utf8'));
    const all = Array.isArray(parsed) ? parsed : [parsed];
    all.forEach((doc, i) => {
      const where = `${relative(EXAMPLES_DIR, path)}#${i + 1}`;
      if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined) docs.push({ where, value });
    });
  }
  return docs;
}

describe('examples/', () => {
  it('holds example manifests (a suite with nothing to check fails)', async () => {
    expect((await exampleDocs()).length).toBeGreaterThan(0);
  });

  it('holds only documents that parse with AgentRunManifestSchema', async () => {
    const failures = (await exampleDocs()).flatMap(({ where, value }) => {
      const parsed = AgentRunManifestSchema.safeParse(value);
      return parsed.success ? [] : [`${where}: ${describeZodError(parsed.error)}`];
    });
    expect(failures).toEqual([]);
  });

  it('states a known expected phase (and reason) on every run', async () => {
    const reasons = new Set<string>(Object.values(Reasons));
    const failures = (await exampleDocs()).flatMap(({ where, value }) => {
      const manifest = AgentRunManifestSchema.parse(value);
      const annotations = manifest.metadata.annotations ?? {};
      const phase = annotations[EXPECTED_PHASE];
      const reason = annotations[EXPECTED_REASON];
      const problems: string[] = [];
      if (phase === undefined || !(Phases as readonly string[]).includes(phase)) problems.push(`${where}: ${EXPECTED_PHASE} must be one of ${Phases.join(', ')}, got ${String(phase)}`);
      if (reason !== undefined && !reasons.has(reason)) problems.push(`${where}: ${EXPECTED_REASON} ${reason} is not a reason the controller writes`);
      return problems;
    });
    expect(failures).toEqual([]);
  });

  it('gives every run a name no other example uses', async () => {
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const { where, value } of await exampleDocs()) {
      const { metadata } = AgentRunManifestSchema.parse(value);
      const key = `${metadata.namespace ?? 'default'}/${metadata.name}`;
      const first = seen.get(key);
      if (first !== undefined) duplicates.push(`${key} in ${first} and ${where}`);
      else seen.set(key, where);
    }
    expect(duplicates).toEqual([]);
  });
});
