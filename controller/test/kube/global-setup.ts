// vitest globalSetup of the kube project: obtain the binaries (test-infra/kube/setup.sh), start
// one etcd + kube-apiserver for the whole run, provide its kubeconfig to the suites, stop it at
// the end. With STROMBOLI_TEST_KUBECONFIG set, the suites use that existing (disposable!)
// cluster instead and nothing is started. Any failure here fails the run: no skipping.
import { rm } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { makeRunDir, startTestControlPlane } from '../../../test-infra/kube/harness.ts';
import type { TestControlPlane } from '../../../test-infra/kube/harness.ts';
import { readKubeTools, runKubeSetup } from '../../../test-infra/kube/tools.ts';
import type { KubeTestBed } from './test-bed.ts';

let controlPlane: TestControlPlane | undefined;
let externalScratch: string | undefined;

function serverOf(kubeconfigPath: string): string {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error(`kube test bed: ${kubeconfigPath} (STROMBOLI_TEST_KUBECONFIG) has no current cluster`);
  return server;
}

/** Starts (or connects to) the cluster and provides `kubeTestBed` to the suites. */
export async function setup(project: TestProject): Promise<void> {
  await runKubeSetup();
  const tools = readKubeTools();
  const existing = process.env['STROMBOLI_TEST_KUBECONFIG'];
  let bed: KubeTestBed;
  if (existing !== undefined && existing !== '') {
    externalScratch = await makeRunDir();
    bed = { kubeconfigPath: existing, server: serverOf(existing), kubectl: tools.kubectl, helm: tools.helm, kstatus: tools.kstatus, external: true, k8sVersion: '', scratchDir: externalScratch };
    process.stderr.write(`kube test bed: using the existing cluster at ${bed.server} (STROMBOLI_TEST_KUBECONFIG)\n`);
  } else {
    controlPlane = await startTestControlPlane({ tools, log: (line) => process.stderr.write(`kube test bed: ${line}\n`) });
    bed = {
      kubeconfigPath: controlPlane.kubeconfigPath, server: controlPlane.server,
      kubectl: tools.kubectl, helm: tools.helm, kstatus: tools.kstatus, external: false, k8sVersion: tools.k8sVersion, scratchDir: controlPlane.scratchDir,
    };
  }
  project.provide('kubeTestBed', bed);
}

/** Stops the local control plane, if one was started, and removes the run's folders. */
export async function teardown(): Promise<void> {
  await controlPlane?.stop();
  controlPlane = undefined;
  if (externalScratch !== undefined) await rm(externalScratch, { recursive: true, force: true });
  externalScratch = undefined;
}
