import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError, readManifests, renderTable } from './client.ts';
import { main } from '../stromboli.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderTable', () => {
  it('prints kubectl-style columns, namespace-qualified outside default', () => {
    const now = Date.parse('2026-11-29T12:10:00Z');
    const table = renderTable(
      [
        {
          metadata: { name: 'a', namespace: 'default', creationTimestamp: '2026-11-29T12:00:00Z' },
          spec: {},
          status: {
            phase: 'Succeeded',
            sessionId: 's-1',
            // The CLI's own durationMs is its API time, not the run's: DURATION is wall time.
            startTime: '2026-11-29T12:00:02.000Z',
            completionTime: '2026-11-29T12:00:03.500Z',
            usage: { durationMs: 20, costUSD: 0.0123 },
            conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: 'x' }],
          },
        },
        { metadata: { name: 'b', namespace: 'team', creationTimestamp: '2026-11-29T12:09:30Z' }, spec: {} },
        { metadata: { name: 'c', namespace: 'default', creationTimestamp: '2026-11-29T12:09:00Z' }, spec: {}, status: { phase: 'Running', startTime: '2026-11-29T12:09:58Z' } },
      ],
      now,
    );
    expect(table.split('\n')).toEqual([
      'NAME     PHASE       REASON      AGE   DURATION   COST      SESSION',
      'a        Succeeded   Succeeded   10m   1.5s       $0.0123   s-1',
      'team/b   Pending                 30s',
      'c        Running                 60s   2.0s',
    ]);
  });
});

describe('readManifests', () => {
  it('reads every document of a multi-document file', async () => {
    const file = join(dir, 'runs.yaml');
    await writeFile(file, 'apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: one}\nspec: {prompt: a}\n---\n---\nkind: AgentRun\nmetadata: {name: two}\n');
    expect((await readManifests(file)).map((m) => m.metadata.name)).toEqual(['one', 'two']);
  });

  it('says which file is wrong and why', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'metadata: {}\n');
    await expect(readManifests(file)).rejects.toThrow(`${file}: a document has no metadata.name`);
    await expect(readManifests(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read .*missing\.yaml: ENOENT/);
  });
});

describe('main', () => {
  it('prints the usage for help and refuses unknown commands and options with exit code 2', async () => {
    let out = '';
    await main(['--help'], (t) => (out += t));
    expect(out).toContain('Usage: stromboli <command>');
    await expect(main(['frobnicate'], () => {})).rejects.toMatchObject({ exitCode: 2 });
    await expect(main(['get', '--bogus'], () => {})).rejects.toBeInstanceOf(CliError);
    await expect(main(['logs'], () => {})).rejects.toMatchObject({ message: 'stromboli logs needs a run NAME', exitCode: 2 });
    await expect(main(['get', '-o', 'xml'], () => {})).rejects.toMatchObject({ exitCode: 2 });
  });

  it('explains a server that cannot be reached in one line', async () => {
    await expect(main(['get', '--server', 'http://127.0.0.1:1'], () => {})).rejects.toThrow(/cannot reach the stromboli server at http:\/\/127\.0\.0\.1:1 .*is 'stromboli serve' running\?/);
  });
});
