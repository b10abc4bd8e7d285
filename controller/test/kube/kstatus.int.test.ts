// Conditions follow kstatus, checked by the real library: the kstatus checker
// (test-infra/kstatus, sigs.k8s.io/cli-utils' status.Compute, built by test-infra/kube/setup.sh)
// reads AgentRuns whose status the controller's own code built (controller/test/health/) and
// must say InProgress while a run is under way, Current once it succeeded, Failed once it failed
// or was cancelled (docs/kubernetes-health.md). The same objects also go through the real API
// server (CRD schema, status subresource) and come back with the same verdicts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { exampleStates, lifecycleStates } from '../health/agentrun-states.ts';
import type { AgentRunState } from '../health/agentrun-states.ts';
import { kubeTestBed, kubectl, runTool, uniqueName } from './test-bed.ts';
import type { KubeTestBed } from './test-bed.ts';

interface KstatusLine {
  name: string;
  kind: string;
  status: string;
  message: string;
}

/** Pipes `objects` (as one List) through the kstatus checker; one result per object, in order. */
async function kstatus(bed: KubeTestBed, objects: readonly unknown[]): Promise<KstatusLine[]> {
  const result = await runTool(bed.kstatus, [], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  const lines = result.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as KstatusLine);
  expect(lines).toHaveLength(objects.length);
  return lines;
}

function verdicts(states: readonly AgentRunState[], lines: readonly KstatusLine[]): Record<string, string> {
  return Object.fromEntries(states.map((s, i) => [s.name, `${lines[i]?.status ?? '(none)'}: ${lines[i]?.message ?? ''}`]));
}

function expected(states: readonly AgentRunState[], lines: readonly KstatusLine[]): Record<string, string> {
  return Object.fromEntries(states.map((s, i) => [s.name, `${s.kstatus}: ${lines[i]?.message ?? ''}`]));
}

describe('kstatus (sigs.k8s.io/cli-utils) on AgentRuns the controller wrote', () => {
  const bed = kubeTestBed();

  it('the checker reads JSON and YAML, single objects and Lists, and fails on bad input', async () => {
    const yaml = [
      'apiVersion: stromboli.dev/v1alpha1', 'kind: AgentRun', 'metadata: {name: a, namespace: ns1, generation: 2}', 'status: {observedGeneration: 1}',
      '---',
      'apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: b}',
    ].join('\n');
    const out = await runTool(bed.kstatus, [], { input: yaml });
    expect(out.exitCode).toBe(0);
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l) as KstatusLine)).toEqual([
      { name: 'ns1/a', kind: 'AgentRun', status: 'InProgress', message: 'AgentRun generation is 2, but latest observed generation is 1' },
      { name: 'b', kind: 'ConfigMap', status: 'Current', message: 'Resource is always ready' },
    ]);
    const bad = await runTool(bed.kstatus, [], { input: '{"kind": ' });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^kstatus: document 1: /);
  });

  it('every state of a run: InProgress while under way, Current on success, Failed on failure or cancel, Terminating while deleted', async () => {
    const states = lifecycleStates();
    const lines = await kstatus(bed, states.map((s) => s.object));
    expect(verdicts(states, lines)).toEqual(expected(states, lines));
    // The reasons travel: kstatus quotes the condition that decided.
    const byName = new Map(states.map((s, i) => [s.name, lines[i]]));
    expect(byName.get('failed-crashed')?.message).toMatch(/exit code 139|SIGSEGV|crash/i);
    expect(byName.get('cancelled-running')?.message).toContain('cancel');
    expect(byName.get('stale-generation')?.message).toBe('AgentRun generation is 2, but latest observed generation is 1');
    expect(byName.get('deleting')?.message).toBe('Resource scheduled for deletion');
  });

  it('every example of examples/ in the state it declares', async () => {
    const states = exampleStates();
    expect(states.length).toBeGreaterThanOrEqual(10);
    const lines = await kstatus(bed, states.map((s) => s.object));
    expect(verdicts(states, lines)).toEqual(expected(states, lines));
  });

  describe('the same objects through the API server (CRD schema, status subresource)', () => {
    const namespace = uniqueName('kstatus');

    beforeAll(async () => {
      for (const args of [['create', 'namespace', namespace], ['apply', '-f', join(REPO_ROOT, 'crds', 'agentrun.yaml')]]) {
        const done = await kubectl(bed, args);
        expect(done.exitCode, done.stderr).toBe(0);
      }
      const established = await kubectl(bed, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentruns.stromboli.dev']);
      expect(established.exitCode, established.stderr).toBe(0);
    });

    afterAll(async () => {
      await kubectl(bed, ['delete', 'namespace', namespace, '--wait=false']);
    });

    it('keeps every field kstatus reads, so the verdicts are the same on what kubectl get returns', async () => {
      // Objects the server can reproduce as they are: generation 1 (a create), not being deleted,
      // and a spec the CRD accepts (it refuses failed-invalid-spec's already).
      const states = [...lifecycleStates(), ...exampleStates()].filter((s) =>
        s.object.metadata.generation === 1 && s.object.metadata.deletionTimestamp === undefined && s.name !== 'failed-invalid-spec');
      expect(states.length).toBeGreaterThanOrEqual(15);
      for (const state of states) {
        const { metadata, spec, status } = state.object;
        const created = await kubectl(bed, ['create', '-n', namespace, '-o', 'json', '-f', '-'], JSON.stringify({
          apiVersion: state.object.apiVersion, kind: state.object.kind, metadata: { name: metadata.name, labels: { state: 'kstatus' } }, spec,
        }));
        expect(created.exitCode, `${state.name}: ${created.stderr}`).toBe(0);
        if (status === undefined) continue;
        const written = { ...(JSON.parse(created.stdout) as Record<string, unknown>), status };
        const replaced = await kubectl(bed, ['replace', '--subresource=status', '-n', namespace, '-f', '-'], JSON.stringify(written));
        expect(replaced.exitCode, `${state.name}: ${replaced.stderr}`).toBe(0);
      }
      const got = await kubectl(bed, ['get', 'agentruns', '-n', namespace, '-l', 'state=kstatus', '-o', 'json']);
      expect(got.exitCode, got.stderr).toBe(0);
      const items = (JSON.parse(got.stdout) as { items: { metadata: { name: string } }[] }).items;
      const served = new Map(items.map((item) => [item.metadata.name, item]));
      const inOrder = states.map((s) => served.get(s.name));
      expect(inOrder.every((item) => item !== undefined)).toBe(true);
      const lines = await kstatus(bed, inOrder);
      expect(verdicts(states, lines)).toEqual(expected(states, lines));
    });
  });
});
