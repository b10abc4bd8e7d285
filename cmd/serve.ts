// `stromboli serve`, the embedded mode: the file store over the watched directory and the state
// directory, a node agent over it (cmd/controller.ts) and the facade over both (cmd/api.ts), in
// one process. Wiring only.
import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentRunStatus } from '../contract/apis/v1alpha1/index.ts';
import { HealthChecker, ImageCatalog, RegistryCatalog, SecretCatalog, SessionCatalog, sessionInUse } from '../controller/src/catalog/index.ts';
import type { RootLogger } from '../controller/src/log.ts';
import type { ControllerHandle } from '../controller/src/reconcile/controller.ts';
import { fileLogReader } from '../controller/src/runner/file-log-reader.ts';
import { FileStore } from '../controller/src/store/file/file-store.ts';
import type { ApiServer } from './api.ts';
import { prepareAuth, startApi } from './api.ts';
import type { ServeConfig } from './config.ts';
import { webhookSettingsFrom } from './config.ts';
import { prepareNodeAgent } from './controller.ts';
import type { NodeAgent } from './controller.ts';
import { tracingFor } from './telemetry.ts';
import { compact } from '../contract/compact.ts';

export interface EmbeddedServer {
  /** Where the API listens, e.g. http://127.0.0.1:8585. */
  url: string;
  app: ApiServer['app'];
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

/** What startEmbedded reads from its surroundings; tests pass their own. */
export interface EmbeddedEnvironment {
  /** Credentials (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN), API secrets and webhook settings. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export async function startEmbedded(config: ServeConfig, log: RootLogger, surroundings: EmbeddedEnvironment = {}): Promise<EmbeddedServer> {
  const env = surroundings.env ?? process.env;
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const auth = await prepareAuth(config, stateDir, env, log);
  const store = await FileStore.open<AgentRunStatus>({ runsDir: resolve(config.runsDir), stateDir, defaultNamespace: config.defaultNamespace, log: log.child({ component: 'file-store' }) });
  try {
    const owner = await ownerOf(stateDir);
    // The API listens before the loop starts: the loop's first reconciles (one per stored run) and
    // the slots' seeding then never delay the first answers. Nothing is lost meanwhile: a run
    // created through the API is in the store, and the loop's watch starts with every run.
    const tracing = await tracingFor(config);
    const agent = await prepareNodeAgent({ store, config, stateDir, owner, env, log, ...compact({ tracing }) }).catch(async (err: unknown) => {
      await tracing?.shutdown();
      throw err;
    });
    let api: ApiServer;
    let running: NodeAgent;
    try {
      api = await startApi({
        ports: {
          runs: store,
          logs: fileLogReader(store, agent.logs),
          problems: () => store.problems().map((p) => ({ path: p.path, error: p.error })),
          defaultNamespace: config.defaultNamespace,
          health: new HealthChecker({ podman: agent.podman, credentialSecrets: agent.credentials.map((c) => c.secret), apiEndpointConfigured: config.anthropicBaseUrl !== undefined }),
          sessions: new SessionCatalog({ dirs: agent.sessions, inUse: async (id) => sessionInUse(await store.list(), id) }),
          secrets: new SecretCatalog({ podman: agent.podman, reserved: agent.reservedSecrets }),
          images: new ImageCatalog({ podman: agent.podman, agentImage: config.image }),
          ...compact({ registry: config.imageRegistry === undefined ? undefined : new RegistryCatalog({ podman: agent.podman, registry: config.imageRegistry, insecure: config.imageRegistryInsecure === 'on' }) }),
          webhooks: webhookSettingsFrom(env),
        },
        config,
        auth,
        ...compact({ tracing }),
        agentMetrics: { loop: () => agent.metrics(), runs: () => agent.tally.totals(), observeLoop: (observer) => agent.observeLoop(observer) },
        log,
      });
    } catch (err) {
      await agent.close();
      await tracing?.shutdown();
      throw err;
    }
    try {
      running = await agent.start();
    } catch (err) {
      await api.close();
      await agent.close();
      await tracing?.shutdown();
      throw err;
    }
    log.info(
      { url: api.url, runsDir: resolve(config.runsDir), stateDir, maxConcurrentRuns: config.maxConcurrentRuns, auth: auth.decision.enabled, authSources: auth.sources, rateLimitPerMinute: config.rateLimitPerMinute },
      'stromboli serving',
    );
    return {
      url: api.url,
      app: api.app,
      store,
      controller: running.controller,
      owner,
      async close() {
        await api.close();
        await agent.close();
        await store.close();
        await tracing?.shutdown(); // exports the spans still buffered
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
