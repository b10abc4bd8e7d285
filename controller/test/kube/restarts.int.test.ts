// Kubernetes mode through failures (issue 10), with real podman and the fake Claude image:
// - a node agent (`stromboli controller --store kube`, a real child process) killed with kill -9
//   mid-run and started again adopts the same container, and the run ends Succeeded once;
// - the API server and etcd restarted mid-run (a control plane of this file's own): the informer
//   recovers, the run finishes, nothing is lost or started twice (containers counted by label).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import { startKubeNodeAgent } from '../../../cmd/kube.ts';
import { startTestControlPlane } from '../../../test-infra/kube/harness.ts';
import type { TestControlPlane } from '../../../test-infra/kube/harness.ts';
import { readKubeTools } from '../../../test-infra/kube/tools.ts';
import { createLogger } from '../../src/log.ts';
import { Labels } from '../../src/runner/names.ts';
import { spawnStromboli } from '../helpers/child-server.ts';
import { Cleanup } from '../helpers/cleanup.ts';
import { containerEvents, containersOfRun, ensureFakeImage, inspectContainer, removeContainersOfOwner } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { createNamespaceWithCrd, kubeTestBed, kubectl, uniqueName } from './test-bed.ts';
import type { KubeTestBed } from './test-bed.ts';

const bed = kubeTestBed();
const cleanup = new Cleanup();

function manifest(name: string, prompt: string): string {
  return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: ${name}}\nspec:\n  prompt: ${JSON.stringify(prompt)}\n  podman: {image: ${FAKE_IMAGE}}\n`;
}

async function runOf(target: KubeTestBed, namespace: string, name: string): Promise<{ uid: string; status?: AgentRunStatus } | undefined> {
  const got = await kubectl(target, ['get', 'agentrun', name, '-n', namespace, '-o', 'json']);
  if (got.exitCode !== 0) return undefined;
  const object = JSON.parse(got.stdout) as { metadata: { uid: string }; status?: AgentRunStatus };
  return { uid: object.metadata.uid, ...(object.status === undefined ? {} : { status: object.status }) };
}

beforeAll(async () => {
  await ensureFakeImage();
});

afterEach(async () => {
  await cleanup.run();
});

describe('a node agent killed with kill -9 mid-run', () => {
  it('adopts the same container when it starts again, and the run ends Succeeded once', async () => {
    const namespace = uniqueName('kill9');
    const nodeName = uniqueName('node');
    await createNamespaceWithCrd(bed, namespace);
    cleanup.add('delete the namespace', async () => void (await kubectl(bed, ['delete', 'namespace', namespace, '--wait=false'])));
    const stateDir = await mkdtemp(join(tmpdir(), 'stromboli-kill9-'));
    cleanup.add('remove the state directory', () => rm(stateDir, { recursive: true, force: true }));
    const args = ['controller', '--store', 'kube', '--kubeconfig', bed.kubeconfigPath, '--namespace', namespace, '--node-name', nodeName, '--lease-namespace', namespace, '--state-dir', stateDir, '--containers-conf', CONTAINERS_CONF, '--image', FAKE_IMAGE];
    const spawnAgent = (): ReturnType<typeof spawnStromboli> => spawnStromboli(cleanup, { args, owner: `node-${nodeName}`, readyMessage: 'node agent started', what: `node agent ${nodeName}` });
    const since = new Date();

    const first = await spawnAgent();
    expect((await kubectl(bed, ['apply', '-n', namespace, '-f', '-'], manifest('slow', 'Outlive your agent [fake:sleep=8]'))).exitCode).toBe(0);
    await expect.poll(async () => (await runOf(bed, namespace, 'slow'))?.status?.phase, { timeout: 60_000, interval: 250 }).toBe('Running');
    const running = await runOf(bed, namespace, 'slow');
    const uid = running?.uid ?? '';
    const [original] = await containersOfRun(uid);
    expect(original?.name).toBe(running?.status?.containerName);

    await first.kill9();
    expect((await first.exited).signal).toBe('SIGKILL');
    const inspected = await inspectContainer(original?.id ?? '');
    expect((inspected?.['State'] as { Running?: boolean } | undefined)?.Running).toBe(true);

    await spawnAgent();
    await expect.poll(async () => (await runOf(bed, namespace, 'slow'))?.status?.phase, { timeout: 90_000, interval: 250 }).toBe('Succeeded');
    const done = await runOf(bed, namespace, 'slow');
    expect(done?.status?.attempt).toBe(1);
    expect(done?.status?.node).toBe(nodeName);
    const creates = (await containerEvents({ key: Labels.uid, value: uid }, since)).filter((e) => e.status === 'create');
    expect(creates).toHaveLength(1);
  });
});

describe('the API server and etcd restarted mid-run', () => {
  let plane: TestControlPlane;
  let local: KubeTestBed;

  beforeAll(async () => {
    plane = await startTestControlPlane({ tools: readKubeTools() });
    local = { ...bed, kubeconfigPath: plane.kubeconfigPath, server: plane.server, external: false, scratchDir: plane.scratchDir };
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it('recovers its watch, finishes the run, and starts nothing twice', async () => {
    const namespace = uniqueName('restart');
    const nodeName = uniqueName('node');
    await createNamespaceWithCrd(local, namespace);
    const stateDir = await mkdtemp(join(tmpdir(), 'stromboli-apirestart-'));
    cleanup.add('remove the state directory', () => rm(stateDir, { recursive: true, force: true }));
    const config = ServeConfigSchema.parse({ stateDir, containersConf: CONTAINERS_CONF, image: FAKE_IMAGE, pollMs: 1_000 });
    const agent = await startKubeNodeAgent(config, { kubeconfig: plane.kubeconfigPath, namespace, nodeName, leaseNamespace: namespace }, createLogger({ level: 'error' }), {});
    cleanup.add('stop the node agent and remove its containers', async () => {
      await agent.close();
      await removeContainersOfOwner(`node-${nodeName}`);
    });
    const since = new Date();

    expect((await kubectl(local, ['apply', '-n', namespace, '-f', '-'], manifest('through', 'Survive the control plane [fake:sleep=10]'))).exitCode).toBe(0);
    await expect.poll(async () => (await runOf(local, namespace, 'through'))?.status?.phase, { timeout: 60_000, interval: 250 }).toBe('Running');
    const uid = (await runOf(local, namespace, 'through'))?.uid ?? '';

    await plane.restart('kube-apiserver');
    await plane.restart('etcd');
    // A run created while the agent's watch is still recovering is picked up too.
    expect((await kubectl(local, ['apply', '-n', namespace, '-f', '-'], manifest('after', 'Created after the restart'))).exitCode).toBe(0);

    await expect.poll(async () => (await runOf(local, namespace, 'through'))?.status?.phase, { timeout: 120_000, interval: 500 }).toBe('Succeeded');
    await expect.poll(async () => (await runOf(local, namespace, 'after'))?.status?.phase, { timeout: 120_000, interval: 500 }).toBe('Succeeded');
    const creates = (await containerEvents({ key: Labels.uid, value: uid }, since)).filter((e) => e.status === 'create');
    expect(creates).toHaveLength(1);
    expect((await runOf(local, namespace, 'through'))?.status?.attempt).toBe(1);
  });
});
