// `stromboli api --store kube`: the Stromboli facade over a cluster. The runs are AgentRuns of one
// namespace in the API server (KubeStore); their logs and streams come from the node agent that
// ran them, at the URL it recorded as status.logRef (api-server/src/node-logs/). No podman here:
// the catalog routes that need a host (secrets, images) are not served, /health has no
// components, /sessions lists what the runs name. Wiring only.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { compact } from '../contract/compact.ts';
import { ClusterSessions, NodeLogReader, readLogToken } from '../api-server/src/node-logs/index.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { loadKubeConfig } from '../controller/src/store/kube/kube-config.ts';
import { KubeStore } from '../controller/src/store/kube/kube-store.ts';
import type { ApiServer } from './api.ts';
import { prepareAuth, startApi } from './api.ts';
import type { ServeConfig } from './config.ts';
import { webhookSettingsFrom } from './config.ts';
import { tracingFor } from './telemetry.ts';

/** Where the facade finds its cluster and the node agents' logs. */
export interface KubeApiSettings {
  /** A kubeconfig file. Default: in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** The namespace runs are created in and read from. Default: the config's defaultNamespace ('default'). */
  namespace?: string;
  /** File holding the token the node agents' log endpoints require. Default: none (every log read answers 503 saying so). */
  logTokenFile?: string;
  /** From a request to a node agent's response headers, in ms. Default: the reader's (5 s). */
  logConnectTimeoutMs?: number;
}

/** A listening facade over the cluster. */
export interface KubeApi {
  url: string;
  app: ApiServer['app'];
  store: KubeStore<AgentRunStatus>;
  namespace: string;
  /** Where the facade's request metrics are served (`--metrics-address`); undefined without. */
  metricsUrl?: string;
  close(): Promise<void>;
}

export async function startKubeApi(config: ServeConfig, settings: KubeApiSettings, log: RootLogger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<KubeApi> {
  const namespace = settings.namespace ?? config.defaultNamespace;
  // The state directory holds only the API's own files here (revoked tokens).
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const auth = await prepareAuth(config, stateDir, env, log);
  let token: string | undefined;
  if (settings.logTokenFile === undefined) {
    log.warn({}, 'no --log-token-file: the node agents\' logs cannot be read (log and stream requests answer 503)');
  } else {
    const read = await readLogToken(resolve(settings.logTokenFile));
    if (read.exposed) log.warn({ file: settings.logTokenFile }, 'credential file is readable by other users: chmod 600 it');
    token = read.value;
  }
  const { kubeConfig, source } = loadKubeConfig(compact({ kubeconfigPath: settings.kubeconfig }));
  const store = new KubeStore<AgentRunStatus>({ kubeConfig, namespace, defaultNamespace: namespace, log: log.child({ component: 'kube-store' }) });
  const tracing = await tracingFor(config);
  const api = await startApi({
    ...compact({ tracing }),
    ports: {
      runs: store,
      logs: new NodeLogReader({ runs: store, token, ...compact({ connectTimeoutMs: settings.logConnectTimeoutMs }) }),
      defaultNamespace: namespace,
      sessions: new ClusterSessions({ runs: store, namespace }),
      webhooks: webhookSettingsFrom(env),
    },
    config,
    auth,
    log,
  });
  log.info({ url: api.url, namespace, kubeconfig: source, auth: auth.decision.enabled, authSources: auth.sources, logToken: token !== undefined }, 'stromboli api serving');
  return {
    url: api.url,
    app: api.app,
    store,
    namespace,
    ...compact({ metricsUrl: api.metricsUrl }),
    async close() {
      await api.close();
      await tracing?.shutdown();
    },
  };
}
