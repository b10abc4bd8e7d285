// `stromboli controller --store kube`: a node agent over the Kubernetes store. The AgentRuns come
// from the API server (kubectl apply, the facade); the containers run in this host's podman.
// Wiring only: the store is controller/src/store/kube/, the agent is cmd/controller.ts.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { compact } from '../contract/compact.ts';
import { ValidationError } from '../contract/errors.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { loadKubeConfig } from '../controller/src/store/kube/kube-config.ts';
import { KubeStore } from '../controller/src/store/kube/kube-store.ts';
import type { ServeConfig } from './config.ts';
import type { NodeAgent } from './controller.ts';
import { startNodeAgent } from './controller.ts';

/** Where a node agent finds its cluster and which runs it takes. */
export interface KubeAgentSettings {
  /** A kubeconfig file. Default: in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** The one namespace watched; undefined watches every namespace. */
  namespace?: string;
  /** This agent's node name: status.node of its runs and the owner label of its containers. Default: $NODE_NAME (the downward API in a pod), else the host name. */
  nodeName?: string;
}

/** A running node agent over the Kubernetes store. */
export interface KubeNodeAgent {
  agent: NodeAgent;
  store: KubeStore<AgentRunStatus>;
  nodeName: string;
  close(): Promise<void>;
}

/** The node name of an agent: the setting, else $NODE_NAME, else the host name; a DNS-1123 label either way. */
export function nodeNameOf(settings: KubeAgentSettings, env: Readonly<Record<string, string | undefined>>): string {
  const name = settings.nodeName ?? env['NODE_NAME'] ?? hostname();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new ValidationError(`node name "${name}" is not a lowercase DNS name; pass --node-name`);
  }
  return name;
}

export async function startKubeNodeAgent(config: ServeConfig, settings: KubeAgentSettings, log: RootLogger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<KubeNodeAgent> {
  const nodeName = nodeNameOf(settings, env);
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const { kubeConfig, source } = loadKubeConfig(compact({ kubeconfigPath: settings.kubeconfig }));
  const store = new KubeStore<AgentRunStatus>({ kubeConfig, ...compact({ namespace: settings.namespace }), defaultNamespace: config.defaultNamespace, log: log.child({ component: 'kube-store' }) });
  const agent = await startNodeAgent({ store, config, stateDir, owner: `node-${nodeName}`, node: nodeName, env, log });
  log.info({ nodeName, namespace: settings.namespace ?? '(all)', kubeconfig: source, stateDir, maxConcurrentRuns: config.maxConcurrentRuns }, 'node agent started');
  return {
    agent,
    store,
    nodeName,
    close: () => agent.close(),
  };
}
