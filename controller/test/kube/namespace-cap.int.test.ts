// The per-namespace cap across node agents (issue 11, docs/multi-node.md "Namespace cap"): two
// real agent processes with two slots each share a namespace annotated
// stromboli.dev/max-running-runs=1. Without the cap four of its runs would run at once; with it,
// running containers of the namespace (sampled) never exceed the documented bound (the cap plus
// the number of agents minus one), runs wait with reason NamespaceCapReached meanwhile, and all
// end Succeeded.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { MAX_RUNNING_RUNS_ANNOTATION } from '../../src/agentrun/namespace-cap.ts';
import { Labels } from '../../src/runner/names.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { listContainers } from '../helpers/podman.ts';
import { FAKE_IMAGE } from '../helpers/repo.ts';
import { NodeAgentPlane } from './node-agents.ts';
import { kubectl, uniqueName } from './test-bed.ts';

const cleanup = new Cleanup();
const agents = new NodeAgentPlane(cleanup);

async function statuses(namespace: string): Promise<Array<AgentRunStatus | undefined>> {
  const got = await kubectl(agents.local, ['get', 'agentruns', '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return [];
  return (JSON.parse(got.stdout) as { items: Array<{ status?: AgentRunStatus }> }).items.map((i) => i.status);
}

beforeAll(() => agents.start(), 180_000);

afterAll(() => agents.stop());

afterEach(async () => {
  await cleanup.run();
});

describe('a namespace capped at one running run, two agents with two slots each', () => {
  it('never runs more than the bound at once, shows NamespaceCapReached, and runs every run', async () => {
    const namespace = await agents.newNamespace('cap');
    const annotated = await kubectl(agents.local, ['annotate', 'namespace', namespace, `${MAX_RUNNING_RUNS_ANNOTATION}=1`]);
    expect(annotated.exitCode, annotated.stderr).toBe(0);
    const flags = ['--max-concurrent-runs', '2', '--lease-duration-seconds', '4', '--no-podman-api'];
    await agents.startAgent(namespace, uniqueName('cap-a'), flags);
    await agents.startAgent(namespace, uniqueName('cap-b'), flags);

    let peak = 0;
    let samples = 0;
    let sawCapReason = false;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const running = await listContainers({ [Labels.managed]: 'true', [Labels.namespace]: namespace }, { all: false });
        peak = Math.max(peak, running.length);
        if ((await statuses(namespace)).some((s) => reasonOf(s) === 'NamespaceCapReached')) sawCapReason = true;
        samples += 1;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const total = 4;
    const docs = Array.from({ length: total }, (_, i) => `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: capped-${i}}\nspec:\n  prompt: "Capped ${i} [fake:sleep=3]"\n  podman: {image: ${FAKE_IMAGE}}\n`);
    const applied = await kubectl(agents.local, ['apply', '-n', namespace, '-f', '-'], docs.join('---\n'));
    expect(applied.exitCode, applied.stderr).toBe(0);
    await expect.poll(async () => (await statuses(namespace)).filter((s) => s?.phase === 'Succeeded').length, { timeout: 120_000, interval: 500 }).toBe(total);
    sampling = false;
    await sampler;
    expect(samples).toBeGreaterThan(5);
    // The bound: the cap (1) plus agents - 1 (two agents counting in the same instant).
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
    expect(sawCapReason).toBe(true);
  }, 240_000);
});
