// The node agent's composition root: the AgentRun controller over podman for a store it is given
// (the file store in `stromboli serve`; the Kubernetes store in `stromboli controller --store kube`).
// It wires concrete parts and does nothing else: decisions live in controller/src/agentrun/.
import { join, resolve } from 'node:path';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import type { ResourceStore } from '../contract/store/store.ts';
import { keyOf } from '../contract/store/store.ts';
import { Janitor } from '../controller/src/agentrun/janitor.ts';
import { KnownContainers } from '../controller/src/agentrun/known-containers.ts';
import { LeaseKeeper } from '../controller/src/agentrun/lease-keeper.ts';
import { JANITOR_LEASE, nodeLeaseName } from '../controller/src/agentrun/leases.ts';
import type { LeaseStore } from '../controller/src/agentrun/leases.ts';
import { NodeJanitor } from '../controller/src/agentrun/node-janitor.ts';
import type { PromptSource } from '../controller/src/agentrun/prompt-source.ts';
import { AgentRunReconciler } from '../controller/src/agentrun/reconciler.ts';
import type { RunEvents } from '../controller/src/agentrun/run-events.ts';
import { RunTally } from '../controller/src/agentrun/run-tally.ts';
import { tracedExecutor } from '../controller/src/telemetry/traced.ts';
import type { Tracing } from '../contract/tracing.ts';
import { Slots } from '../controller/src/agentrun/slots.ts';
import { seedSlots } from '../controller/src/agentrun/startup.ts';
import { StoreSessionHomes } from '../controller/src/agentrun/session-homes.ts';
import type { NamespaceCaps } from '../controller/src/agentrun/namespace-cap.ts';
import { ExecaExecutor } from '../controller/src/exec/execa-executor.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { PodmanClient } from '../controller/src/podman/client.ts';
import { startPodmanApi } from '../controller/src/podman/podman-api.ts';
import type { PodmanApi } from '../controller/src/podman/podman-api.ts';
import { runController } from '../controller/src/reconcile/controller.ts';
import type { ControllerHandle, ControllerMetrics, LoopObserver } from '../controller/src/reconcile/controller.ts';
import { credentialSecretNames, syncCredentialSecrets } from '../controller/src/runner/credentials.ts';
import type { CredentialSecret } from '../controller/src/runner/podman-runner.ts';
import { LogStore } from '../controller/src/runner/log-store.ts';
import { PodmanAgentRunner } from '../controller/src/runner/podman-runner.ts';
import { SessionDirs } from '../controller/src/runner/session.ts';
import type { RunIdentity } from '../controller/src/runner/names.ts';
import type { AgentRunner } from '../controller/src/runner/types.ts';
import { compact } from '../contract/compact.ts';
import type { ServeConfig } from './config.ts';
import { workersFor } from './config.ts';

/** The settings of ServeConfig a node agent uses. */
export type NodeAgentConfig = Pick<
  ServeConfig,
  | 'maxConcurrentRuns'
  | 'allowedVolumes'
  | 'containersConf'
  | 'podmanApi'
  | 'image'
  | 'containerNetwork'
  | 'anthropicBaseUrl'
  | 'claudeCredentialsFile'
  | 'containerEnv'
  | 'workers'
  | 'resyncMs'
  | 'pollMs'
  | 'retryDelayMs'
  | 'logRetentionSeconds'
>;

export interface NodeAgentOptions {
  store: ResourceStore<AgentRunStatus>;
  config: NodeAgentConfig;
  /** Where logs and sessions live (the server's state directory). */
  stateDir: string;
  /** Owner label of this agent's containers and prefix of its podman secrets. */
  owner: string;
  /** Recorded as status.node of the runs it starts. Default: the reconciler's ('local'). */
  node?: string;
  /** status.logRef of an attempt (the URL of this node's log endpoint in Kubernetes mode). Default: the log's path in the state directory. */
  logRef?: (run: RunIdentity, attempt: number) => string;
  /** Where credentials come from (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN). */
  env: Readonly<Record<string, string | undefined>>;
  log: RootLogger;
  /** Where an event goes on each phase or reason change (Kubernetes events). Default: none (the embedded mode has no events API). */
  events?: RunEvents;
  /** Spans for reconciles and podman calls. Default: none. */
  tracing?: Tracing;
  /** Reads the prompts spec.promptFrom names (ConfigMaps, Secrets). Default: none (promptFrom ends InvalidSpec). */
  prompts?: PromptSource;
  /**
   * Several agents share the store (Kubernetes mode, docs/multi-node.md): this agent holds its
   * node Lease, claims runs only while it does, and may hold the janitor role. Needs `node`.
   * Default: none (the embedded mode: one agent owns every run).
   */
  sharing?: SharingOptions;
}

/** How a node agent shares a cluster's runs with the others. */
export interface SharingOptions {
  leases: LeaseStore;
  /** leaseDurationSeconds of its Leases; the janitor fails a node over this long after its last renewal. */
  leaseDurationSeconds: number;
  /** Time between the janitor's looks at the node Leases, in ms. Default: NodeJanitor's (2 s). */
  janitorIntervalMs?: number;
  /**
   * The state directory's sessions/ is on storage every agent shares (--shared-sessions): any
   * agent resumes any session. Default false: a resumed run goes to the agent holding its HOME
   * (session affinity, docs/multi-node.md).
   */
  sharedSessions?: boolean;
  /** The per-namespace caps across agents (the Namespace annotation stromboli.dev/max-running-runs). Default: none. */
  namespaceCaps?: NamespaceCaps;
}

/** A node agent ready to start its loop, and the parts the facade reads through its ports. */
export interface PreparedNodeAgent {
  podman: PodmanClient;
  logs: LogStore;
  sessions: SessionDirs;
  /** The credential secrets every container gets. */
  credentials: readonly CredentialSecret[];
  /** Names of this agent's credential secrets (never listed or removed through the API). */
  reservedSecrets: string[];
  /** The loop's counters; all zero before start(). */
  metrics(): ControllerMetrics;
  /** Transitions, tokens and cost of this agent's runs since start (the metrics endpoint reads them). */
  tally: RunTally;
  /** Sends the loop's reconcile durations and queue waits to `observer` from now on (the metrics' histograms). */
  observeLoop(observer: LoopObserver): void;
  /**
   * Seeds the slots from podman and the store (every unfinished run is put in line), then starts
   * the loop and the janitor: the part whose cost grows with the number of runs. Once.
   */
  start(): Promise<NodeAgent>;
  /**
   * Stops the loop (when started), the janitors and the podman service; containers keep running
   * for the next start to adopt. The node Lease is not given up (a restart within its duration
   * adopts the containers; after it, the janitor fails the runs over); the janitor role is.
   */
  close(): Promise<void>;
}

/** A running node agent. */
export interface NodeAgent extends PreparedNodeAgent {
  controller: ControllerHandle;
  /** Whether this agent holds its node Lease now; undefined without sharing. */
  leaseHeld?: () => boolean;
  /** Whether this agent holds the janitor role now; undefined without sharing. */
  janitorHeld?: () => boolean;
  /**
   * Drains the agent (with sharing): it claims and starts nothing more, hands its runs that wait
   * for a retry back unclaimed, and resolves once none of its containers runs; then close() it.
   */
  drain?: () => Promise<void>;
}

/** Starts the controller: podman, credentials, runner, slots seeded from podman and the store, then the loop. */
export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const prepared = await prepareNodeAgent(options);
  try {
    return await prepared.start();
  } catch (err) {
    await prepared.close();
    throw err;
  }
}

/**
 * Prepares a node agent without starting its loop: podman (its service), credentials, the runner.
 * `stromboli serve` listens between this and start(), so the API answers while the loop's first
 * reconciles (one per stored run) are still to come.
 */
export async function prepareNodeAgent(options: NodeAgentOptions): Promise<PreparedNodeAgent> {
  const { store, config, stateDir, owner, env, log } = options;
  const tracing = options.tracing;
  // Every podman command and REST call of this agent gets a span when tracing is on (telemetry/traced.ts).
  const executor = tracing === undefined ? new ExecaExecutor() : tracedExecutor(new ExecaExecutor(), tracing);
  const podmanEnv = config.containersConf === undefined ? undefined : { CONTAINERS_CONF: resolve(config.containersConf) };
  const podman = new PodmanClient({ executor, ...compact({ env: podmanEnv }) });
  const logs = new LogStore({ root: join(stateDir, 'logs') });
  const sessions = new SessionDirs({ root: join(stateDir, 'sessions') });
  // The loop starts last; the slots and the runner wake runs through it once it exists.
  const loop: { controller?: ControllerHandle } = {};
  const slots = new Slots({ limit: config.maxConcurrentRuns, wake: (keys) => keys.forEach((k) => loop.controller?.enqueue(k)) });
  // The runner and the event stream call each other through `wire` (both exist only after this).
  const wire: { runner?: PodmanAgentRunner } = {};
  // The service starts while the credentials are synced (both take a few hundred ms).
  const apiStarting =
    config.podmanApi === 'on'
      ? startPodmanApi({
          executor,
          socketPath: join(stateDir, 'podman.sock'),
          owner,
          ...compact({ env: podmanEnv, tracing }),
          log: log.child({ component: 'podman-service' }),
          onDied: (event) => wire.runner?.containerDied(event),
          onResumed: () => wire.runner?.eventsResumed(),
        })
      : undefined;
  const credentials = await syncCredentialSecrets(podman, {
    owner,
    env,
    ...(config.claudeCredentialsFile === undefined ? {} : { credentialsFile: resolve(config.claudeCredentialsFile) }),
  });
  if (credentials.kinds.length === 0) {
    log.warn({}, 'no claude credentials configured: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or pass --claude-credentials-file');
  }
  let api: PodmanApi | undefined;
  const apiStarted = await apiStarting;
  if (apiStarted?.ok === true) api = apiStarted.api;
  else if (apiStarted?.ok === false) log.warn({ reason: apiStarted.reason }, 'podman service unavailable: every podman call goes through the CLI');
  if (!(await (api?.client ?? podman).imageExists(config.image))) {
    log.warn({ image: config.image }, "default agent image missing: build it with 'stromboli images build' (runs that name no image fail ImageNotFound until then)");
  }
  const runner = new PodmanAgentRunner({
    podman,
    ...compact({ api: api?.client }),
    logs,
    sessions,
    owner,
    defaultImage: config.image,
    allowedVolumes: config.allowedVolumes,
    ...compact({ network: config.containerNetwork }),
    env: { ...config.containerEnv, ...compact({ ANTHROPIC_BASE_URL: config.anthropicBaseUrl }) },
    credentials: credentials.secrets,
    log: log.child({ component: 'runner' }),
    onOutputEnd: (run) => loop.controller?.enqueue(keyOf(run)),
  });
  wire.runner = runner;
  const logRetentionMs = config.logRetentionSeconds * 1000;
  const janitor = new Janitor({ store, logs, log, retentionMs: logRetentionMs });
  const tally = new RunTally(options.events);
  let loopObserver: LoopObserver | undefined;
  let starting: Promise<NodeAgent> | undefined;
  let closed = false;
  const node = options.node;
  const sharing = options.sharing;
  if (sharing !== undefined && node === undefined) throw new RangeError('sharing the store needs a node name');
  // Started by start(), stopped by close().
  const shared: { nodeLease?: LeaseKeeper; role?: LeaseKeeper; nodeJanitor?: NodeJanitor } = {};

  async function start(): Promise<NodeAgent> {
    if (closed) throw new Error('the node agent is closed');
    const known = new KnownContainers();
    const seedOptions = sharing === undefined || node === undefined ? {} : { node };
    await seedSlots(store, runner, slots, log, known, seedOptions);
    const drain = { asked: false };
    const nodeLease =
      sharing === undefined || node === undefined
        ? undefined
        : new LeaseKeeper({
            leases: sharing.leases,
            name: nodeLeaseName(node),
            identity: node,
            node,
            durationSeconds: sharing.leaseDurationSeconds,
            log: log.child({ component: 'node-lease' }),
            // Back after a loss: drop the containers of runs reassigned meanwhile before claiming again.
            onAcquired: async (regained) => {
              if (!regained) return;
              const swept = await seedSlots(store, runner, slots, log, known, seedOptions);
              log.info({ reassignedRemoved: swept.reassignedRemoved, running: swept.running }, 'node rejoined');
            },
          });
    if (nodeLease !== undefined) shared.nodeLease = nodeLease;
    await nodeLease?.start();
    const reconciler = new AgentRunReconciler({
      containers: known,
      store,
      runner: withLogRefs(runner, options.logRef),
      slots,
      pollMs: config.pollMs,
      retryDelayMs: config.retryDelayMs,
      logRetentionMs,
      events: tally,
      ...compact({ node, prompts: options.prompts, tracing }),
      ...(nodeLease === undefined ? {} : { claims: { mayClaim: () => !drain.asked && nodeLease.held(), releasing: () => drain.asked } }),
      ...(sharing === undefined
        ? {}
        : {
            sessionHomes: new StoreSessionHomes({ store, sessions, shared: sharing.sharedSessions ?? false, isLive: (other) => shared.nodeJanitor?.nodeLive(other) }),
            ...compact({ namespaceCaps: sharing.namespaceCaps }),
          }),
    });
    const controller = runController({
      store,
      reconciler,
      log: log.child({ component: 'controller' }),
      concurrency: workersFor(config),
      resyncMs: config.resyncMs,
      observer: { reconciled: (outcome, seconds) => loopObserver?.reconciled(outcome, seconds), waited: (seconds) => loopObserver?.waited(seconds) },
    });
    loop.controller = controller;
    const role =
      sharing === undefined || node === undefined
        ? undefined
        : new LeaseKeeper({ leases: sharing.leases, name: JANITOR_LEASE, identity: node, durationSeconds: sharing.leaseDurationSeconds, log: log.child({ component: 'janitor-lease' }) });
    if (role !== undefined) shared.role = role;
    const nodeJanitor =
      sharing === undefined || role === undefined
        ? undefined
        : new NodeJanitor({
            store,
            leases: sharing.leases,
            leader: role,
            leaseDurationSeconds: sharing.leaseDurationSeconds,
            log: log.child({ component: 'janitor' }),
            ...compact({ intervalMs: sharing.janitorIntervalMs, events: options.events }),
          });
    if (nodeJanitor !== undefined) shared.nodeJanitor = nodeJanitor;
    await janitor.start();
    await role?.start();
    nodeJanitor?.start();
    return {
      ...agent,
      controller,
      ...(nodeLease === undefined ? {} : { leaseHeld: () => nodeLease.held() }),
      ...(role === undefined ? {} : { janitorHeld: () => role.held() }),
      ...(nodeLease === undefined
        ? {}
        : {
            async drain() {
              drain.asked = true;
              log.info({ running: slots.running }, 'draining: no more claims');
              while (slots.running > 0) await new Promise((resolveWait) => setTimeout(resolveWait, 500));
              log.info({}, 'drained');
            },
          }),
    };
  }

  const agent: PreparedNodeAgent = {
    podman,
    logs,
    sessions,
    credentials: credentials.secrets,
    reservedSecrets: Object.values(credentialSecretNames(owner)),
    metrics: () => loop.controller?.metrics() ?? idleMetrics(),
    tally,
    observeLoop: (observer) => {
      loopObserver = observer;
    },
    start() {
      starting ??= start();
      return starting;
    },
    async close() {
      closed = true;
      await starting?.catch(() => undefined);
      janitor.stop();
      await shared.nodeJanitor?.stop();
      await shared.role?.stop({ release: true });
      await shared.nodeLease?.stop();
      await loop.controller?.stop();
      await api?.close();
    },
  };
  return agent;
}

/** The counters of a loop that has not started: nothing reconciled, nothing queued. */
function idleMetrics(): ControllerMetrics {
  return {
    reconciles: { success: 0, requeue: 0, terminal: 0, transient: 0, conflict: 0, error: 0 },
    queueAdds: 0,
    queueRetries: 0,
    maxConcurrentReconciles: 0,
    queueDepth: 0,
    queueDelayed: 0,
    activeWorkers: 0,
    watchRestarts: 0,
  };
}

/** The runner as the reconciler sees it: status.logRef from `logRef` when given (the runner keeps its own paths). */
function withLogRefs(runner: AgentRunner, logRef: ((run: RunIdentity, attempt: number) => string) | undefined): AgentRunner {
  if (logRef === undefined) return runner;
  return {
    start: (request) => runner.start(request),
    inspect: (name) => runner.inspect(name),
    follow: (run, attempt, name) => runner.follow(run, attempt, name),
    collect: (run, attempt, name) => runner.collect(run, attempt, name),
    stop: (name, grace) => runner.stop(name, grace),
    remove: (name) => runner.remove(name),
    listManaged: () => runner.listManaged(),
    retainLogs: (run, deleteAfter) => runner.retainLogs(run, deleteAfter),
    logPath: (run, attempt) => logRef(run, attempt),
  };
}
