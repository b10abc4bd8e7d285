// Several node agents on one cluster (issue 11, docs/multi-node.md), each a real child process
// (`stromboli controller --store kube`) with its own node name and owner label on the same
// podman, with the fake Claude image, against a control plane of this file's own:
// - three agents share 200 runs applied at once, with the API server restarted mid-burst: every
//   run starts exactly once (container create events counted by label) and ends Succeeded, and
//   no agent ever runs more containers than its limit (sampled);
// - the agent holding the janitor role killed with kill -9 mid-run: the other takes the role
//   within the Lease duration (plus one renewal period), and the dead agent's runs end NodeLost
//   or are retried on the other agent within the Lease duration + 10 s;
// - an agent frozen (SIGSTOP) past its Lease, then resumed: its runs were failed over, it writes
//   nothing for them, removes their containers, and rejoins (runs a new run);
// - an agent drained (SIGUSR2): it claims nothing more, its running run finishes, it exits 0.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { JANITOR_LEASE, nodeLeaseName } from '../../src/agentrun/leases.ts';
import { Labels, containerName } from '../../src/runner/names.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { containersOfRun, followContainerEvents, listContainers } from '../helpers/podman.ts';
import { FAKE_IMAGE } from '../helpers/repo.ts';
import { NodeAgentPlane } from './node-agents.ts';
import { kubectl, uniqueName } from './test-bed.ts';

const cleanup = new Cleanup();
const agents = new NodeAgentPlane(cleanup);

interface Run {
  name: string;
  uid: string;
  resourceVersion: string;
  status?: AgentRunStatus;
}

function manifest(name: string, prompt: string, extra = ''): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n  podman: {image: ${FAKE_IMAGE}}\n${extra}`;
}

async function apply(namespace: string, docs: string[]): Promise<void> {
  const applied = await kubectl(agents.local, ['apply', '-n', namespace, '-f', '-'], docs.join('---\n'));
  expect(applied.exitCode, applied.stderr).toBe(0);
}

async function runs(namespace: string): Promise<Run[]> {
  const got = await kubectl(agents.local, ['get', 'agentruns', '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return [];
  const list = JSON.parse(got.stdout) as { items: Array<{ metadata: { name: string; uid: string; resourceVersion: string }; status?: AgentRunStatus }> };
  return list.items.map((i) => ({ name: i.metadata.name, uid: i.metadata.uid, resourceVersion: i.metadata.resourceVersion, ...(i.status === undefined ? {} : { status: i.status }) }));
}

async function runOf(namespace: string, name: string): Promise<Run | undefined> {
  return (await runs(namespace)).find((r) => r.name === name);
}

beforeAll(() => agents.start(), 180_000);

afterAll(() => agents.stop());

afterEach(async () => {
  await cleanup.run();
});

describe('three node agents sharing 200 runs, the API server restarted mid-burst', () => {
  it('runs each run exactly once, all end Succeeded, and no agent exceeds its limit', async () => {
    const namespace = await agents.newNamespace('share');
    const limit = 4;
    const nodes = ['share-a', 'share-b', 'share-c'].map((n) => uniqueName(n));
    for (const node of nodes) await agents.startAgent(namespace, node, ['--max-concurrent-runs', String(limit), '--lease-duration-seconds', '10']);
    const recorder = await followContainerEvents({ key: Labels.namespace, value: namespace });
    cleanup.add('stop the podman events stream', async () => void (await recorder.stop()));

    // Sampled the whole time: running containers per agent (its owner label).
    const peaks = new Map<string, number>(nodes.map((n) => [n, 0]));
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const running = await listContainers({ [Labels.managed]: 'true', [Labels.namespace]: namespace }, { all: false });
        for (const node of nodes) {
          const count = running.filter((c) => c.labels[Labels.owner] === `node-${node}`).length;
          peaks.set(node, Math.max(peaks.get(node) ?? 0, count));
        }
        samples += 1;
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const total = 200;
    await apply(namespace, Array.from({ length: total }, (_, i) => manifest(`r${String(i).padStart(3, '0')}`, `Run ${i} [fake:sleep=1]`)));
    // Mid-burst: a quarter done, then the API server goes away and comes back.
    await expect.poll(async () => (await runs(namespace)).filter((r) => r.status?.phase === 'Succeeded').length, { timeout: 300_000, interval: 1_000 }).toBeGreaterThanOrEqual(total / 4);
    await agents.plane.restart('kube-apiserver');
    await expect
      .poll(async () => (await runs(namespace)).filter((r) => r.status?.phase === 'Succeeded').length, { timeout: 600_000, interval: 2_000 })
      .toBe(total);
    sampling = false;
    await sampler;

    const done = await runs(namespace);
    expect(done).toHaveLength(total);
    expect(done.filter((r) => r.status?.attempt !== 1).map((r) => r.name)).toEqual([]);
    // Every node took a share, and each run's one container was created once, by one agent.
    expect(new Set(done.map((r) => r.status?.node))).toEqual(new Set(nodes));
    const creates = (await recorder.stop()).filter((e) => e.status === 'create');
    const expected = done.map((r) => containerName({ namespace, name: r.name, uid: r.uid }, 1)).sort();
    expect(creates.map((e) => e.name).sort()).toEqual(expected);
    expect(samples).toBeGreaterThan(10);
    for (const node of nodes) expect(peaks.get(node), `peak running containers of ${node}`).toBeLessThanOrEqual(limit);
  }, 900_000);
});

describe('the janitor leader killed with kill -9 mid-run', () => {
  it('hands the role to the other agent, and fails its runs over: NodeLost, or retried on the other agent', async () => {
    const namespace = await agents.newNamespace('kill');
    const duration = 4;
    const flags = ['--max-concurrent-runs', '2', '--lease-duration-seconds', String(duration), '--no-podman-api'];
    const first = uniqueName('kill-a');
    const second = uniqueName('kill-b');
    const a = await agents.startAgent(namespace, first, flags);
    await expect.poll(() => agents.leaseHolder(namespace, JANITOR_LEASE), { timeout: 30_000, interval: 250 }).toBe(first);
    // Both of a's slots taken before b exists: one run may be retried, the other may not.
    await apply(namespace, [manifest('lost', 'Lost with its node [fake:sleep=25]'), manifest('retried', 'Retried elsewhere [fake:sleep=25]', '  backoffLimit: 1\n')]);
    await expect.poll(async () => (await runs(namespace)).filter((r) => r.status?.phase === 'Running' && r.status.node === first).length, { timeout: 60_000, interval: 250 }).toBe(2);
    await agents.startAgent(namespace, second, flags);
    await expect.poll(() => agents.leaseHolder(namespace, nodeLeaseName(second)), { timeout: 30_000, interval: 250 }).toBe(second);

    await a.kill9();
    const killedAt = Date.now();
    await expect.poll(() => agents.leaseHolder(namespace, JANITOR_LEASE), { timeout: duration * 1000 + 3_000, interval: 200 }).toBe(second);
    await expect
      .poll(
        async () => {
          const lost = await runOf(namespace, 'lost');
          const retried = await runOf(namespace, 'retried');
          return { lost: [lost?.status?.phase, reasonOf(lost?.status)], retriedNode: retried?.status?.node ?? '(none)', retriedAttempt: retried?.status?.attempt };
        },
        { timeout: Math.max(1_000, killedAt + (duration + 10) * 1000 - Date.now()), interval: 250 },
      )
      .toMatchObject({ lost: ['Failed', 'NodeLost'], retriedAttempt: 2 });
    await expect.poll(async () => (await runOf(namespace, 'retried'))?.status?.phase, { timeout: 60_000, interval: 500 }).toBe('Succeeded');
    const retried = await runOf(namespace, 'retried');
    expect(retried?.status).toMatchObject({ node: second, attempt: 2 });
    expect((await runOf(namespace, 'lost'))?.status?.node).toBe(first);
  }, 240_000);
});

describe('an agent frozen with SIGSTOP past its Lease, then resumed', () => {
  it('writes nothing for its failed-over runs, removes their containers, and rejoins', async () => {
    const namespace = await agents.newNamespace('freeze');
    const duration = 4;
    const flags = ['--max-concurrent-runs', '2', '--lease-duration-seconds', String(duration)];
    const frozen = uniqueName('freeze-a');
    const other = uniqueName('freeze-b');
    const a = await agents.startAgent(namespace, frozen, flags);
    await apply(namespace, [manifest('one', 'Frozen [fake:sleep=90]'), manifest('two', 'Frozen too [fake:sleep=90]')]);
    await expect.poll(async () => (await runs(namespace)).filter((r) => r.status?.phase === 'Running' && r.status.node === frozen).length, { timeout: 60_000, interval: 250 }).toBe(2);
    const b = await agents.startAgent(namespace, other, flags);

    process.kill(a.pid, 'SIGSTOP');
    let resumed = false;
    cleanup.add('resume the frozen agent so it can stop', async () => {
      if (!resumed) process.kill(a.pid, 'SIGCONT');
    });
    await expect
      .poll(async () => (await runs(namespace)).map((r) => `${r.status?.phase}/${reasonOf(r.status)}`), { timeout: (duration + 20) * 1000, interval: 250 })
      .toEqual(['Failed/NodeLost', 'Failed/NodeLost']);
    const failedOver = await runs(namespace);
    const containersBefore = (await Promise.all(failedOver.map((r) => containersOfRun(r.uid)))).flat();
    expect(containersBefore.filter((c) => c.labels[Labels.owner] === `node-${frozen}`)).toHaveLength(2);

    process.kill(a.pid, 'SIGCONT');
    resumed = true;
    // It removes its containers of those runs...
    await expect.poll(async () => (await Promise.all(failedOver.map((r) => containersOfRun(r.uid)))).flat().length, { timeout: 60_000, interval: 500 }).toBe(0);
    // ...and rejoins: its Lease held again, it runs a new run once the other agent is gone.
    await expect.poll(() => a.logs.withMessage('lease acquired').some((l) => l['regained'] === true && l['lease'] === nodeLeaseName(frozen)), { timeout: 30_000, interval: 250 }).toBe(true);
    // Nothing was written for the failed-over runs after the janitor's write.
    const after = await runs(namespace);
    expect(after.map((r) => r.resourceVersion)).toEqual(failedOver.map((r) => r.resourceVersion));
    await b.stop();
    await apply(namespace, [manifest('after', 'Back again')]);
    await expect.poll(async () => (await runOf(namespace, 'after'))?.status?.phase, { timeout: 60_000, interval: 500 }).toBe('Succeeded');
    expect((await runOf(namespace, 'after'))?.status?.node).toBe(frozen);
  }, 240_000);
});

describe('an agent drained with SIGUSR2', () => {
  it('claims nothing more, lets its running run finish, then exits cleanly', async () => {
    const namespace = await agents.newNamespace('drain');
    const flags = ['--max-concurrent-runs', '2', '--lease-duration-seconds', '4'];
    const drained = uniqueName('drain-a');
    const other = uniqueName('drain-b');
    const a = await agents.startAgent(namespace, drained, flags);
    await apply(namespace, [manifest('finishing', 'Finish while draining [fake:sleep=8]')]);
    await expect.poll(async () => (await runOf(namespace, 'finishing'))?.status?.phase, { timeout: 60_000, interval: 250 }).toBe('Running');
    await agents.startAgent(namespace, other, flags);
    process.kill(a.pid, 'SIGUSR2');
    await expect.poll(() => a.logs.withMessage('draining: no more claims').length, { timeout: 10_000, interval: 100 }).toBe(1);
    await apply(namespace, [manifest('elsewhere', 'Not on the drained node')]);
    await expect.poll(async () => (await runOf(namespace, 'elsewhere'))?.status?.phase, { timeout: 60_000, interval: 250 }).toBe('Succeeded');
    expect((await runOf(namespace, 'elsewhere'))?.status?.node).toBe(other);
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await runOf(namespace, 'finishing'))?.status).toMatchObject({ phase: 'Succeeded', node: drained, attempt: 1 });
  }, 180_000);
});
