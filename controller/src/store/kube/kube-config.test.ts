import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.ts';
import { loadKubeConfig } from './kube-config.ts';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: { server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true }
  - name: other
    cluster: { server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true }
users:
  - name: admin
    user: { token: abc }
contexts:
  - name: test
    context: { cluster: test, user: admin }
  - name: other
    context: { cluster: other, user: admin }
current-context: test
`;

function kubeconfigFile(text = KUBECONFIG): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kube-config-')), 'kubeconfig');
  writeFileSync(file, text);
  return file;
}

describe('loadKubeConfig', () => {
  it('loads an explicit file, its current context or the one asked', () => {
    const file = kubeconfigFile();
    expect(loadKubeConfig({ kubeconfigPath: file, env: {} })).toMatchObject({ source: 'file' });
    expect(loadKubeConfig({ kubeconfigPath: file, env: {} }).kubeConfig.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(loadKubeConfig({ kubeconfigPath: file, context: 'other', env: {} }).kubeConfig.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
  });

  it('uses in-cluster config inside a pod', () => {
    const { kubeConfig, source } = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, inPod: () => true });
    expect(source).toBe('in-cluster');
    expect(kubeConfig.getCurrentCluster()?.name).toBe('inCluster'); // client-node reads the address from process.env itself
  });

  it('falls back to the default search outside a pod, and refuses a config without a cluster', () => {
    const previous = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = kubeconfigFile();
    try {
      expect(loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, inPod: () => false }).source).toBe('default');
    } finally {
      if (previous === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = previous;
    }
    const empty = kubeconfigFile('apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    expect(() => loadKubeConfig({ kubeconfigPath: empty, env: {} })).toThrow(ValidationError);
  });
});
