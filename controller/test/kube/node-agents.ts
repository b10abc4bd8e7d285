// What the kube tests of several node agents share (multi-node, session affinity): a control
// plane of the file's own, node agent child processes (`stromboli controller --store kube`), each
// with its own state directory, their Leases in the test's namespace, and a fresh namespace per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestControlPlane } from '../../../test-infra/kube/harness.ts';
import type { TestControlPlane } from '../../../test-infra/kube/harness.ts';
import { readKubeTools } from '../../../test-infra/kube/tools.ts';
import { spawnStromboli } from '../helpers/child-server.ts';
import type { ChildProcessHandle } from '../helpers/child-server.ts';
import type { Cleanup } from '../helpers/cleanup.ts';
import { ensureFakeImage } from '../helpers/podman.ts';
import { CONTAINERS_CONF, FAKE_IMAGE } from '../helpers/repo.ts';
import { createNamespaceWithCrd, kubeTestBed, kubectl, uniqueName } from './test-bed.ts';
import type { KubeTestBed } from './test-bed.ts';

/** A control plane for node agents; start() in beforeAll, stop() in afterAll. */
export class NodeAgentPlane {
  readonly #cleanup: Cleanup;
  #plane: TestControlPlane | undefined;
  #local: KubeTestBed | undefined;

  constructor(cleanup: Cleanup) {
    this.#cleanup = cleanup;
  }

  /** Builds the fake image and starts the control plane. */
  async start(): Promise<void> {
    await ensureFakeImage();
    const plane = await startTestControlPlane({ tools: readKubeTools() });
    this.#plane = plane;
    this.#local = { ...kubeTestBed(), kubeconfigPath: plane.kubeconfigPath, server: plane.server, external: false, scratchDir: plane.scratchDir };
  }

  async stop(): Promise<void> {
    await this.#plane?.stop();
  }

  get plane(): TestControlPlane {
    if (this.#plane === undefined) throw new Error('the control plane is not started');
    return this.#plane;
  }

  /** The test bed kubectl talks to. */
  get local(): KubeTestBed {
    if (this.#local === undefined) throw new Error('the control plane is not started');
    return this.#local;
  }

  /** A node agent child process on this control plane, watching `namespace`, its Leases there too. */
  async startAgent(namespace: string, node: string, extra: readonly string[] = []): Promise<ChildProcessHandle> {
    const stateDir = await mkdtemp(join(tmpdir(), `stromboli-${node}-`));
    this.#cleanup.add(`remove the state directory of ${node}`, () => rm(stateDir, { recursive: true, force: true }));
    const args = [
      'controller', '--store', 'kube', '--kubeconfig', this.plane.kubeconfigPath, '--namespace', namespace, '--node-name', node,
      '--lease-namespace', namespace, '--state-dir', stateDir, '--containers-conf', CONTAINERS_CONF, '--image', FAKE_IMAGE, ...extra,
    ];
    return spawnStromboli(this.#cleanup, { args, owner: `node-${node}`, readyMessage: 'node agent started', what: `node agent ${node}` });
  }

  /** A fresh namespace with the CRD, deleted at cleanup. */
  async newNamespace(prefix: string): Promise<string> {
    const namespace = uniqueName(prefix);
    await createNamespaceWithCrd(this.local, namespace);
    this.#cleanup.add('delete the namespace', async () => void (await kubectl(this.local, ['delete', 'namespace', namespace, '--wait=false'])));
    return namespace;
  }

  /** holderIdentity of a Lease; undefined when there is none. */
  async leaseHolder(namespace: string, name: string): Promise<string | undefined> {
    const got = await kubectl(this.local, ['get', 'lease', name, '-n', namespace, '-o', 'json']);
    if (got.exitCode !== 0) return undefined;
    return (JSON.parse(got.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
  }
}
