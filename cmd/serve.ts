// The embedded mode's composition root (`stromboli serve`): file store over the watched
// directory + state directory, the AgentRun controller over podman, and the HTTP API, in one
// process. The only controller file that wires concrete implementations together.
import { createHash } from 'node:crypto';
import { realpath, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildApp } from '../api-server/src/app.ts';
import { setupAuth } from '../api-server/src/auth/setup.ts';
import { Metrics, listenMetrics } from '../api-server/src/plugins/metrics.ts';
import type { MetricsListener } from '../api-server/src/plugins/metrics.ts';
import type { LogReader, StoredRun, WebhookSettings } from '../contract/ports.ts';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { isTerminalPhase } from '../contract/apis/v1alpha1/index.ts';
import { AgentRunReconciler, parseSpec } from '../controller/src/agentrun/reconciler.ts';
import { Slots } from '../controller/src/agentrun/slots.ts';
import { HealthChecker, ImageCatalog, SecretCatalog, SessionCatalog, sessionInUse } from '../controller/src/catalog/index.ts';
import type { ServeConfig } from '../controller/src/config.ts';
import { ExecaExecutor } from '../controller/src/exec/execa-executor.ts';
import type { RootLogger } from '../controller/src/log.ts';
import { PodmanClient } from '../controller/src/podman/client.ts';
import { runController } from '../controller/src/reconcile/controller.ts';
import type { ControllerHandle } from '../controller/src/reconcile/controller.ts';
import { LogStore } from '../controller/src/runner/log-store.ts';
import { tailLines } from '../controller/src/runner/log-tail.ts';
import { Labels } from '../controller/src/runner/names.ts';
import { PodmanAgentRunner } from '../controller/src/runner/podman-runner.ts';
import { credentialSecretNames, syncCredentialSecrets } from '../controller/src/runner/credentials.ts';
import { SessionDirs } from '../controller/src/runner/session.ts';
import { FileStore } from '../controller/src/store/file/file-store.ts';
import type { ResourceStore } from '../contract/store/store.ts';
import { keyOf, refOf } from '../contract/store/store.ts';

/** How often logs of deleted runs are looked at for removal. */
const LOG_SWEEP_MS = 60 * 60 * 1000;

export interface EmbeddedServer {
  /** Where the API listens, e.g. http://127.0.0.1:8585. */
  url: string;
  app: Awaited<ReturnType<typeof buildApp>>;
  store: FileStore<AgentRunStatus>;
  controller: ControllerHandle;
  /** The owner label of this server's containers (and the prefix of its podman secrets' names). */
  owner: string;
  /** Stops the API, drains the loop, releases the state directory. Containers keep running for the next start to adopt. */
  close(): Promise<void>;
}

/** The owner label of this state directory's containers: two embedded servers never touch each other's. */
export async function ownerOf(stateDir: string): Promise<string> {
  const real = await realpath(stateDir);
  return `embedded-${createHash('sha256').update(real).digest('hex').slice(0, 12)}`;
}

/** LogReader over the state directory: replays the persisted transcript, follows it while the run is not finished. */
export function fileLogReader(store: ResourceStore<AgentRunStatus>, logs: LogStore): LogReader {
  return {
    lines(run: StoredRun, options) {
      const attempt = options.attempt ?? run.status?.attempt ?? 1;
      const identity = { namespace: run.metadata.namespace, name: run.metadata.name, uid: run.metadata.uid };
      const follow = async (): Promise<boolean> => {
        if (!options.follow) return false;
        try {
          const current = await store.get(refOf(run));
          if (current.metadata.uid !== run.metadata.uid) return false;
          if (isTerminalPhase(current.status?.phase)) return false;
          // A retry moved on to a later attempt: this attempt's log is complete.
          return (current.status?.attempt ?? 1) <= attempt;
        } catch {
          return false;
        }
      };
      return tailLines(logs.stdoutPath(identity, attempt), { follow, signal: options.signal, ...(options.fromLine === undefined ? {} : { fromLine: options.fromLine }) });
    },
  };
}

/** Puts every unfinished run in line and every running container in a slot, before the first reconcile. */
async function seedSlots(store: ResourceStore<AgentRunStatus>, runner: PodmanAgentRunner, slots: Slots, log: RootLogger): Promise<void> {
  const runs = await store.list();
  const byUid = new Map(runs.map((r) => [r.metadata.uid, r]));
  for (const container of await runner.listManaged()) {
    const run = byUid.get(container.labels[Labels.uid] ?? '');
    if (run === undefined) {
      // An orphan: its run is gone (and the state that would have finalized it too).
      log.warn({ container: container.name }, 'removing orphan container');
      if (container.running) await runner.stop(container.name, 10);
      await runner.remove(container.name);
      continue;
    }
    if (container.running) slots.markRunning(keyOf(refOf(run)));
  }
  for (const run of runs) {
    const parsed = parseSpec(run.spec);
    if (parsed.spec === undefined || isTerminalPhase(run.status?.phase)) continue;
    slots.register(keyOf(refOf(run)), parsed.spec.priority ?? 0, Date.parse(run.metadata.creationTimestamp) || 0);
  }
}

/** What startEmbedded reads from its surroundings; tests pass their own. */
export interface EmbeddedEnvironment {
  /** Where credentials come from (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN). Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Async jobs' webhook settings from the environment: STROMBOLI_WEBHOOK_SIGNING_SECRET (Stromboli's
 * own variable; a secret, so never a flag) and STROMBOLI_WEBHOOK_ALLOW_PRIVATE=true (allow targets
 * on loopback and private networks, e.g. a receiver on this machine).
 */
function webhookSettingsFrom(env: Readonly<Record<string, string | undefined>>): WebhookSettings {
  const secret = env.STROMBOLI_WEBHOOK_SIGNING_SECRET;
  return { ...(secret === undefined || secret === '' ? {} : { signingSecret: secret }), allowPrivateTargets: env.STROMBOLI_WEBHOOK_ALLOW_PRIVATE === 'true' };
}

/** The version in package.json, shown by /health and the OpenAPI document. */
async function packageVersion(): Promise<string> {
  const pkg: unknown = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0-dev';
}

export async function startEmbedded(config: ServeConfig, log: RootLogger, surroundings: EmbeddedEnvironment = {}): Promise<EmbeddedServer> {
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // Before anything starts: a server that must not run open refuses here (setupAuth throws).
  const auth = await setupAuth({
    mode: config.auth,
    host: config.host,
    env: surroundings.env ?? process.env,
    revocationsPath: join(stateDir, 'auth', 'revoked-tokens.json'),
    accessTtlSeconds: config.jwtAccessTtlSeconds,
    refreshTtlSeconds: config.jwtRefreshTtlSeconds,
    ...(config.jwtSecretFile === undefined ? {} : { jwtSecretFile: resolve(config.jwtSecretFile) }),
    ...(config.apiTokenFile === undefined ? {} : { apiTokenFile: resolve(config.apiTokenFile) }),
  });
  for (const file of auth.exposedFiles) log.warn({ file }, 'credential file is readable by other users: chmod 600 it');
  const store = await FileStore.open<AgentRunStatus>({ runsDir: resolve(config.runsDir), stateDir, defaultNamespace: config.defaultNamespace, log: log.child({ component: 'file-store' }) });
  try {
    const executor = new ExecaExecutor();
    const podman = new PodmanClient({ executor, ...(config.containersConf === undefined ? {} : { env: { CONTAINERS_CONF: resolve(config.containersConf) } }) });
    const logs = new LogStore({ root: join(stateDir, 'logs') });
    const sessions = new SessionDirs({ root: join(stateDir, 'sessions') });
    // The loop starts last; the slots and the runner wake runs through it once it exists.
    const loop: { controller?: ControllerHandle } = {};
    const slots = new Slots({ limit: config.maxConcurrentRuns, wake: (keys) => keys.forEach((k) => loop.controller?.enqueue(k)) });
    const owner = await ownerOf(stateDir);
    const credentials = await syncCredentialSecrets(podman, {
      owner,
      env: surroundings.env ?? process.env,
      ...(config.claudeCredentialsFile === undefined ? {} : { credentialsFile: resolve(config.claudeCredentialsFile) }),
    });
    if (credentials.kinds.length === 0) {
      log.warn({}, 'no claude credentials configured: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or pass --claude-credentials-file');
    }
    if (!(await podman.imageExists(config.image))) {
      log.warn({ image: config.image }, "default agent image missing: build it with 'stromboli images build' (runs that name no image fail ImageNotFound until then)");
    }
    const runner = new PodmanAgentRunner({
      podman,
      logs,
      sessions,
      owner,
      defaultImage: config.image,
      allowedVolumes: config.allowedVolumes,
      ...(config.containerNetwork === undefined ? {} : { network: config.containerNetwork }),
      env: { ...config.containerEnv, ...(config.anthropicBaseUrl === undefined ? {} : { ANTHROPIC_BASE_URL: config.anthropicBaseUrl }) },
      credentials: credentials.secrets,
      log: log.child({ component: 'runner' }),
      onOutputEnd: (run) => loop.controller?.enqueue(keyOf(run)),
    });
    await seedSlots(store, runner, slots, log);
    const logRetentionMs = config.logRetentionSeconds * 1000;
    const reconciler = new AgentRunReconciler({ store, runner, slots, pollMs: config.pollMs, retryDelayMs: config.retryDelayMs, logRetentionMs });
    const controller = runController({ store, reconciler, log: log.child({ component: 'controller' }), concurrency: config.workers, resyncMs: config.resyncMs });
    loop.controller = controller;
    const metrics = config.metricsAddress === undefined ? undefined : new Metrics({ loop: () => controller.metrics() });
    const app = await buildApp(
      {
        runs: store,
        logs: fileLogReader(store, logs),
        problems: () => store.problems().map((p) => ({ path: p.path, error: p.error })),
        defaultNamespace: config.defaultNamespace,
        health: new HealthChecker({ podman, credentialSecrets: credentials.secrets.map((c) => c.secret), apiEndpointConfigured: config.anthropicBaseUrl !== undefined }),
        sessions: new SessionCatalog({ dirs: sessions, inUse: async (id) => sessionInUse(await store.list(), id) }),
        secrets: new SecretCatalog({ podman, reserved: Object.values(credentialSecretNames(owner)) }),
        images: new ImageCatalog({ podman, agentImage: config.image }),
        webhooks: webhookSettingsFrom(surroundings.env ?? process.env),
      },
      {
        logger: log.child({ component: 'api' }),
        version: await packageVersion(),
        auth: auth.app,
        bodyLimit: config.bodyLimitBytes,
        trustedProxies: config.trustedProxies,
        ...(config.rateLimitPerMinute === 0 ? {} : { rateLimit: { max: config.rateLimitPerMinute, timeWindowMs: 60_000 } }),
        ...(metrics === undefined ? {} : { metrics }),
      },
    );
    const sweepLogs = async (): Promise<void> => {
      const live = new Set((await store.list()).map((r) => r.metadata.uid));
      const removed = await logs.sweep(live, Date.now(), logRetentionMs);
      if (removed.length > 0) log.info({ count: removed.length }, 'removed logs of deleted runs');
    };
    const janitor = setInterval(() => void sweepLogs().catch((err: unknown) => log.warn({ err }, 'log sweep failed')), LOG_SWEEP_MS);
    janitor.unref();
    await sweepLogs();
    const url = await app.listen({ host: config.host, port: config.port });
    if (!auth.decision.enabled) log.warn({ url }, auth.decision.summary);
    let metricsListener: MetricsListener | undefined;
    if (metrics !== undefined && config.metricsAddress !== undefined) {
      const colon = config.metricsAddress.lastIndexOf(':');
      const address = { host: config.metricsAddress.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(config.metricsAddress.slice(colon + 1)) };
      try {
        metricsListener = await listenMetrics(metrics, address);
      } catch (err) {
        // The API is up but the server cannot start as configured: take it down again.
        clearInterval(janitor);
        await app.close();
        await controller.stop();
        throw err;
      }
      log.info({ url: metricsListener.url }, 'metrics serving');
    }
    log.info(
      { url, runsDir: resolve(config.runsDir), stateDir, maxConcurrentRuns: config.maxConcurrentRuns, auth: auth.decision.enabled, authSources: auth.sources, rateLimitPerMinute: config.rateLimitPerMinute },
      'stromboli serving',
    );
    return {
      url,
      app,
      store,
      controller,
      owner,
      async close() {
        clearInterval(janitor);
        await metricsListener?.close();
        await app.close();
        await controller.stop();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
