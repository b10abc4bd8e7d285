// A node agent in this process over the test bed's cluster, with real podman and the fake image:
// what the kube suites that apply runs with kubectl start before their tests. close() stops it,
// removes its containers (by its owner label) and its state directory, and drops the namespace.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServeConfigSchema } from '../../../cmd/config.ts';
import { startKubeNodeAgent } from '../../../cmd/kube.ts';
import type { KubeNodeAgent } from '../../../cmd/kube.ts';
import { createLogger } from '../../src/log.ts';
import { ensureFakeImage, removeContainersOfOwner } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { createNamespaceWithCrd, kubectl } from './test-bed.ts';
import type { KubeTestBed } from './test-bed.ts';

export interface LocalAgent {
  agent: KubeNodeAgent;
  close(): Promise<void>;
}

/** Creates `namespace` with the CRD and starts an agent named `nodeName` on it (4 slots, 1 s poll, metrics on a free loopback port). */
export async function startLocalAgent(bed: KubeTestBed, namespace: string, nodeName: string): Promise<LocalAgent> {
  await ensureFakeImage();
  await createNamespaceWithCrd(bed, namespace);
  const stateDir = await mkdtemp(join(tmpdir(), 'stromboli-node-'));
  const config = ServeConfigSchema.parse({ stateDir, containersConf: CONTAINERS_CONF, image: FAKE_IMAGE, maxConcurrentRuns: 4, pollMs: 1_000, retryDelayMs: 100, metricsAddress: '127.0.0.1:0' });
  const agent = await startKubeNodeAgent(config, { kubeconfig: bed.kubeconfigPath, namespace, nodeName, leaseNamespace: namespace }, createLogger({ level: 'warn' }), {});
  return {
    agent,
    async close() {
      await agent.close();
      await removeContainersOfOwner(`node-${nodeName}`);
      await rm(stateDir, { recursive: true, force: true });
      await kubectl(bed, ['delete', 'namespace', namespace, '--wait=false']);
    },
  };
}
