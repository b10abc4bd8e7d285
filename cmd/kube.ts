// `stromboli controller --store kube`: a node agent over the Kubernetes store. The AgentRuns come
// from the API server (kubectl apply, the facade); the containers run in this host's podman.
// Wiring only: the store is controller/src/store/kube/, the agent is cmd/controller.ts.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { buildNodeLogApp, checkAdvertiseUrl, logUrlOf, readLogToken } from '../api-server/src/node-logs/index.ts';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { compact } from '../contract/compact.ts';
import { ValidationError } from '../contract/errors.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { attemptLogSource } from '../controller/src/runner/file-log-reader.ts';
import { LogStore } from '../controller/src/runner/log-store.ts';
import { loadKubeConfig } from '../controller/src/store/kube/kube-config.ts';
import { KubePromptSource } from '../controller/src/store/kube/kube-prompt-source.ts';
import { KubeRunEvents } from '../controller/src/store/kube/kube-run-events.ts';
import { KubeStore } from '../controller/src/store/kube/kube-store.ts';
import { KubeLeaseStore } from '../controller/src/store/kube/kube-leases.ts';
import { KubeNamespaceCaps } from '../controller/src/store/kube/kube-namespace-caps.ts';
import { DEFAULT_LEASE_DURATION_SECONDS } from '../controller/src/agentrun/lease-keeper.ts';
import type { ServeConfig } from './config.ts';
import { parseHostPort } from './config.ts';
import type { NodeAgent } from './controller.ts';
import { startNodeAgent } from './controller.ts';
import { Metrics, listenMetrics } from '../api-server/src/plugins/metrics.ts';
import type { MetricsListener } from '../api-server/src/plugins/metrics.ts';
import { tracingFor } from './telemetry.ts';

/** Where a node agent finds its cluster and which runs it takes. */
export interface KubeAgentSettings {
  /** A kubeconfig file. Default: in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** The one namespace watched; undefined watches every namespace. */
  namespace?: string;
  /** This agent's node name: status.node of its runs and the owner label of its containers. Default: $NODE_NAME (the downward API in a pod), else the host name. */
  nodeName?: string;
  /**
   * HOST:PORT of this agent's log endpoint, which serves its runs' logs to the facade
   * (docs/kubernetes.md, "Logs"), e.g. 0.0.0.0:8586 in a pod. Default: none (status.logRef is
   * the log's local path and a facade elsewhere cannot read it). Needs logTokenFile.
   */
  logAddress?: string;
  /** The endpoint's URL as the facade reaches it, recorded in status.logRef. Default: http://$POD_IP:PORT for a wildcard host, else http://HOST:PORT. */
  logAdvertiseUrl?: string;
  /** File holding the bearer token the agents and the facade share (a mounted Secret). Required with logAddress. */
  logTokenFile?: string;
  /** Keep-alive period of followed logs in ms. Default: the endpoint's (10 s). */
  logHeartbeatMs?: number;
  /** Namespace of the node and janitor Leases (the same for every agent of a cluster). Default: $POD_NAMESPACE, else "default". */
  leaseNamespace?: string;
  /** leaseDurationSeconds of the agent's Leases. Default DEFAULT_LEASE_DURATION_SECONDS (15 s). */
  leaseDurationSeconds?: number;
  /** Time between the janitor's looks at the node Leases, in ms. Default: 2 s. */
  janitorIntervalMs?: number;
  /** The sessions directory of every agent is one shared store (NFS and the like): any agent resumes any session. Default false (session affinity). */
  sharedSessions?: boolean;
}

/** A running node agent over the Kubernetes store. */
export interface KubeNodeAgent {
  agent: NodeAgent;
  store: KubeStore<AgentRunStatus>;
  nodeName: string;
  /** The log endpoint's advertised base URL (what status.logRef starts with); undefined without logAddress. */
  logUrl?: string;
  /** Where the agent's Prometheus metrics are served (`--metrics-address`); undefined without. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** A log address as HOST:PORT (the metrics address rules); a RangeError naming it otherwise. */
function logListenAddress(address: string): { host: string; port: number } {
  if (!/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/.test(address)) throw new ValidationError(`log address "${address}" must be HOST:PORT, e.g. 0.0.0.0:8586`);
  const parsed = parseHostPort(address);
  if (parsed.port > 65535) throw new ValidationError(`log address "${address}" has no valid port`);
  return parsed;
}

/** The base URL recorded in status.logRef: the setting, else the pod IP for a wildcard host (downward API), else the host itself. */
export function logAdvertiseUrlOf(settings: Pick<KubeAgentSettings, 'logAdvertiseUrl'>, host: string, port: number, env: Readonly<Record<string, string | undefined>>): string {
  if (settings.logAdvertiseUrl !== undefined) return checkAdvertiseUrl(settings.logAdvertiseUrl);
  let advertised = host;
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const podIp = env['POD_IP'];
    if (podIp === undefined || podIp === '') throw new ValidationError(`log address ${host}:${port} listens on every interface: pass --log-advertise-url or set POD_IP (status.podIP through the downward API)`);
    advertised = podIp;
  }
  return checkAdvertiseUrl(`http://${advertised.includes(':') ? `[${advertised}]` : advertised}:${port}`);
}

/** The node name of an agent: the setting, else $NODE_NAME, else the host name; a DNS-1123 label either way. */
export function nodeNameOf(settings: KubeAgentSettings, env: Readonly<Record<string, string | undefined>>): string {
  const name = settings.nodeName ?? env['NODE_NAME'] ?? hostname();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new ValidationError(`node name "${name}" is not a lowercase DNS name; pass --node-name`);
  }
  return name;
}

/** Where the Leases live: the setting, else the pod's namespace (downward API), else "default"; a DNS-1123 label either way. */
export function leaseNamespaceOf(settings: Pick<KubeAgentSettings, 'leaseNamespace'>, env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env['POD_NAMESPACE'];
  const namespace = settings.leaseNamespace ?? (fromEnv === undefined || fromEnv === '' ? 'default' : fromEnv);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) throw new ValidationError(`lease namespace "${namespace}" is not a namespace name; pass --lease-namespace`);
  return namespace;
}

export async function startKubeNodeAgent(config: ServeConfig, settings: KubeAgentSettings, log: RootLogger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<KubeNodeAgent> {
  const nodeName = nodeNameOf(settings, env);
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const { kubeConfig, source } = loadKubeConfig(compact({ kubeconfigPath: settings.kubeconfig }));
  const store = new KubeStore<AgentRunStatus>({ kubeConfig, ...compact({ namespace: settings.namespace }), defaultNamespace: config.defaultNamespace, log: log.child({ component: 'kube-store' }) });
  const events = new KubeRunEvents({ kubeConfig, reportingInstance: nodeName, log: log.child({ component: 'kube-events' }) });
  const prompts = new KubePromptSource(kubeConfig);
  const leaseNamespace = leaseNamespaceOf(settings, env);
  const leaseDurationSeconds = settings.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
  if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 1) throw new ValidationError(`lease duration ${leaseDurationSeconds} must be a whole number of seconds, at least 1`);
  const namespaceCaps = new KubeNamespaceCaps({ kubeConfig, log: log.child({ component: 'namespace-caps' }) });
  const sharing = { leases: new KubeLeaseStore({ kubeConfig, namespace: leaseNamespace }), leaseDurationSeconds, namespaceCaps, ...compact({ janitorIntervalMs: settings.janitorIntervalMs, sharedSessions: settings.sharedSessions }) };
  const logEndpoint = await startLogEndpoint(store, stateDir, settings, log, env);
  const tracing = await tracingFor(config);
  let agent: NodeAgent;
  try {
    agent = await startNodeAgent({ store, config, stateDir, owner: `node-${nodeName}`, node: nodeName, env, log, events, prompts, sharing, ...compact({ logRef: logEndpoint?.logRef, tracing }) });
  } catch (err) {
    await logEndpoint?.close();
    await tracing?.shutdown();
    throw err;
  }
  // The loop's, the runs', tokens' and cost metrics on their own listener, as `serve` serves them.
  let metricsListener: MetricsListener | undefined;
  if (config.metricsAddress !== undefined) {
    const metrics = new Metrics({ loop: () => agent.metrics(), runs: () => agent.tally.totals() });
    agent.observeLoop(metrics.loopObserver);
    try {
      metricsListener = await listenMetrics(metrics, parseHostPort(config.metricsAddress));
    } catch (err) {
      await agent.close();
      await logEndpoint?.close();
      await tracing?.shutdown();
      throw err;
    }
    log.info({ url: metricsListener.url }, 'metrics serving');
  }
  log.info({ nodeName, namespace: settings.namespace ?? '(all)', kubeconfig: source, stateDir, maxConcurrentRuns: config.maxConcurrentRuns, leaseNamespace, leaseDurationSeconds, sharedSessions: settings.sharedSessions ?? false }, 'node agent started');
  return {
    agent,
    store,
    nodeName,
    ...compact({ logUrl: logEndpoint?.url, metricsUrl: metricsListener?.url }),
    async close() {
      await metricsListener?.close();
      await agent.close();
      await events.flush();
      await logEndpoint?.close();
      await tracing?.shutdown();
    },
  };
}

/** The node's log endpoint, listening before the loop starts so every logRef it writes can be read. */
async function startLogEndpoint(
  store: KubeStore<AgentRunStatus>,
  stateDir: string,
  settings: KubeAgentSettings,
  log: RootLogger,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ url: string; logRef: (run: { namespace: string; name: string; uid: string }, attempt: number) => string; close(): Promise<void> } | undefined> {
  if (settings.logAddress === undefined) {
    if (settings.logTokenFile !== undefined || settings.logAdvertiseUrl !== undefined) throw new ValidationError('--log-token-file and --log-advertise-url need --log-address');
    return undefined;
  }
  if (settings.logTokenFile === undefined) throw new ValidationError('--log-address needs --log-token-file: the log endpoint never runs without its token');
  const { host, port } = logListenAddress(settings.logAddress);
  const token = await readLogToken(resolve(settings.logTokenFile));
  if (token.exposed) log.warn({ file: settings.logTokenFile }, 'credential file is readable by other users: chmod 600 it');
  // The node agent's LogStore has this root too (cmd/controller.ts): the endpoint reads what the runner writes.
  const source = attemptLogSource(store, new LogStore({ root: join(stateDir, 'logs') }));
  const app = await buildNodeLogApp({ source, token: token.value, logger: log.child({ component: 'node-logs' }), ...compact({ heartbeatMs: settings.logHeartbeatMs }) });
  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  let url: string;
  try {
    url = logAdvertiseUrlOf(settings, host, boundPort, env);
  } catch (err) {
    await app.close();
    throw err;
  }
  log.info({ url, listen: `${host}:${boundPort}` }, 'log endpoint serving');
  return { url, logRef: (run, attempt) => logUrlOf(url, run, attempt), close: () => app.close() };
}
