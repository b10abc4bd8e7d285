// `kubectl apply -f agentrun.yaml` runs (issue 10): a node agent over the Kubernetes store
// (cmd/kube.ts, the code `stromboli controller --store kube` runs) against the test bed's real
// kube-apiserver, with real podman and the fake Claude image. Every example applied with kubectl
// ends in the phase and reason it declares; `kubectl wait` returns on the Succeeded condition.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { containersOfRun } from '../helpers/podman.ts';
import { EXAMPLES_DIR } from '../helpers/repo.ts';
import { kubeTestBed, kubectl, uniqueName } from './test-bed.ts';
import { startLocalAgent } from './local-agent.ts';
import type { LocalAgent } from './local-agent.ts';

const bed = kubeTestBed();
const namespace = uniqueName('agent');
const nodeName = uniqueName('node');
let local: LocalAgent | undefined;

interface Example {
  file: string;
  name: string;
  phase: string;
  reason: string | undefined;
}

async function examples(): Promise<Example[]> {
  const out: Example[] = [];
  for (const file of (await readdir(EXAMPLES_DIR)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(EXAMPLES_DIR, file), 'utf8'))) {
      const value = doc.toJS() as { metadata?: { name?: string; annotations?: Record<string, string> } } | null;
      const name = value?.metadata?.name;
      const phase = value?.metadata?.annotations?.['stromboli.dev/expected-phase'];
      if (name === undefined || phase === undefined) continue;
      out.push({ file, name, phase, reason: value?.metadata?.annotations?.['stromboli.dev/expected-reason'] });
    }
  }
  return out;
}

async function statusOf(name: string): Promise<AgentRunStatus | undefined> {
  const got = await kubectl(bed, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return undefined;
  return (JSON.parse(got.stdout) as { status?: AgentRunStatus }).status;
}

beforeAll(async () => {
  local = await startLocalAgent(bed, namespace, nodeName);
});

afterAll(async () => {
  await local?.close();
});

describe('a node agent over the Kubernetes API', () => {
  it('runs every example applied with kubectl to the phase and reason it declares, recording the node', async () => {
    const expected = await examples();
    expect(expected.length).toBeGreaterThan(0);
    for (const file of new Set(expected.map((e) => e.file))) {
      const applied = await kubectl(bed, ['apply', '-n', namespace, '-f', join(EXAMPLES_DIR, file)]);
      expect(applied.exitCode, `${file}: ${applied.stderr}`).toBe(0);
    }
    for (const e of expected) {
      await expect
        .poll(async () => {
          const status = await statusOf(e.name);
          return `${status?.phase ?? 'none'}/${reasonOf(status) ?? ''}`;
        }, { timeout: 150_000, interval: 500, message: `${e.file} ${e.name}` })
        .toBe(`${e.phase}/${e.reason ?? (e.phase === 'Succeeded' ? 'Succeeded' : '')}`);
    }
    const hello = await statusOf('hello');
    expect(hello?.node).toBe(nodeName);
    expect(hello?.usage?.costUSD).toBeGreaterThan(0);

    // The agent's own metrics listener (--metrics-address): the loop, the runs, tokens and cost.
    const metricsUrl = local?.agent.metricsUrl;
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const text = await (await fetch(metricsUrl ?? '')).text();
    expect(text).toMatch(/^controller_runtime_reconcile_total\{controller="agentrun",result="success"\} [1-9]\d*$/m);
    expect(text).toMatch(new RegExp(`^stromboli_agentrun_transitions_total\\{namespace="${namespace}",phase="Succeeded",reason="Succeeded"\\} [1-9]\\d*$`, 'm'));
    expect(text).toMatch(new RegExp(`^stromboli_cost_usd_total\\{namespace="${namespace}",model="[^"]+"\\} [0-9.e-]+$`, 'm'));
  });

  it('lets kubectl wait for the Succeeded condition, and shows the columns in kubectl get', async () => {
    const name = uniqueName('wait');
    const manifest = `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: wait for me\n  podman: {image: localhost/stromboli/fake-claude:latest}\n`;
    const applied = await kubectl(bed, ['apply', '-n', namespace, '-f', '-'], manifest);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const waited = await kubectl(bed, ['wait', '-n', namespace, '--for=condition=Succeeded', '--timeout=120s', `agentrun/${name}`]);
    expect(waited.exitCode, waited.stderr).toBe(0);
    const table = await kubectl(bed, ['get', 'ar', name, '-n', namespace]);
    expect(table.exitCode, table.stderr).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(expect.arrayContaining(['NAME', 'PHASE', 'REASON', 'AGE']));
    expect(row).toMatch(new RegExp(`^${name}\\s+Succeeded\\s+Succeeded\\s`));
    const failed = await kubectl(bed, ['wait', '-n', namespace, '--for=condition=Succeeded=false', '--timeout=120s', 'agentrun/crash']);
    expect(failed.exitCode, failed.stderr).toBe(0);
  });

  it('stops and removes the container of a run deleted with kubectl before the object goes', async () => {
    const name = uniqueName('del');
    const manifest = `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: "[fake:sleep=300] hold on"\n  podman: {image: localhost/stromboli/fake-claude:latest}\n`;
    expect((await kubectl(bed, ['apply', '-n', namespace, '-f', '-'], manifest)).exitCode).toBe(0);
    await expect.poll(async () => (await statusOf(name))?.phase, { timeout: 60_000, interval: 300 }).toBe('Running');
    const uid = (JSON.parse((await kubectl(bed, ['get', 'agentrun', name, '-n', namespace, '-o', 'json'])).stdout) as { metadata: { uid: string } }).metadata.uid;
    expect(await containersOfRun(uid)).toHaveLength(1);
    const deleted = await kubectl(bed, ['delete', 'agentrun', name, '-n', namespace, '--timeout=90s']);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(await containersOfRun(uid)).toEqual([]);
    expect((await kubectl(bed, ['get', 'agentrun', name, '-n', namespace])).exitCode).not.toBe(0);
  });

  it('deletes a finished run once its ttlSecondsAfterFinished has passed', async () => {
    const name = uniqueName('ttl');
    const manifest = `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: short-lived\n  ttlSecondsAfterFinished: 2\n  podman: {image: localhost/stromboli/fake-claude:latest}\n`;
    expect((await kubectl(bed, ['apply', '-n', namespace, '-f', '-'], manifest)).exitCode).toBe(0);
    await expect.poll(async () => (await statusOf(name))?.phase, { timeout: 60_000, interval: 300 }).toBe('Succeeded');
    await expect.poll(async () => (await kubectl(bed, ['get', 'agentrun', name, '-n', namespace])).exitCode, { timeout: 60_000, interval: 500 }).not.toBe(0);
  });
});
