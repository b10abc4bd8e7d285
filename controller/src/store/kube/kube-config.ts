// Where the store finds its API server: the one place a KubeConfig is loaded, so the
// composition root and the tests pick the same way. An explicit kubeconfig file wins; a process
// in a pod (service account mounted, KUBERNETES_SERVICE_HOST set) uses in-cluster config;
// anything else gets client-node's default search ($KUBECONFIG, then ~/.kube/config).

import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ValidationError } from '../../../../contract/errors.ts';

/** Where a pod's service-account token is mounted; its presence means "running in a pod". */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** How loadKubeConfig decides; every field is optional. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file to load (its current context). Default: none, see below. */
  kubeconfigPath?: string;
  /** A context of that file other than its current one. Default: the file's current context. */
  context?: string;
  /** Environment read to decide on in-cluster config (client-node's loadFromCluster then reads process.env itself). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Whether the service-account token exists. Default: checks SERVICE_ACCOUNT_TOKEN_PATH. */
  inPod?: () => boolean;
}

/** How the config was found, for the start-up log line. */
export type KubeConfigSource = 'file' | 'in-cluster' | 'default';

/**
 * Loads a KubeConfig: `kubeconfigPath` when given, in-cluster config inside a pod, the default
 * search otherwise. Throws ValidationError when the result names no cluster.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): { kubeConfig: KubeConfig; source: KubeConfigSource } {
  const env = options.env ?? process.env;
  const inPod = options.inPod ?? ((): boolean => existsSync(SERVICE_ACCOUNT_TOKEN_PATH));
  const kubeConfig = new KubeConfig();
  let source: KubeConfigSource;
  if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== '') {
    kubeConfig.loadFromFile(options.kubeconfigPath);
    source = 'file';
  } else if ((env['KUBERNETES_SERVICE_HOST'] ?? '') !== '' && inPod()) {
    kubeConfig.loadFromCluster();
    source = 'in-cluster';
  } else {
    kubeConfig.loadFromDefault();
    source = 'default';
  }
  if (options.context !== undefined) kubeConfig.setCurrentContext(options.context);
  if (kubeConfig.getCurrentCluster() === null) {
    throw new ValidationError(`no Kubernetes cluster configured (kubeconfig from ${source}${options.kubeconfigPath === undefined ? '' : `: ${options.kubeconfigPath}`})`);
  }
  return { kubeConfig, source };
}
