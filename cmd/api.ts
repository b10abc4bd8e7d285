// The facade's composition root: the Stromboli HTTP API over the ports it is given (the store, a
// log reader, the catalogs). `stromboli serve` gives it the file store and the local node agent's
// parts; `stromboli api --store kube` will give it the Kubernetes store. It wires and listens.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Ports } from '../contract/ports.ts';
import { buildApp } from '../api-server/src/app.ts';
import { shapesFor } from '../api-server/src/stromboli/api-version.ts';
import { setupAuth } from '../api-server/src/auth/setup.ts';
import type { AuthSetup } from '../api-server/src/auth/setup.ts';
import { Metrics, listenMetrics } from '../api-server/src/plugins/metrics.ts';
import type { AgentMetrics, MetricsListener } from '../api-server/src/plugins/metrics.ts';
import type { RootLogger } from '../controller/src/log.ts';
import type { ServeConfig } from './config.ts';
import { parseHostPort } from './config.ts';
import { compact } from '../contract/compact.ts';
import type { Tracing } from '../contract/tracing.ts';

/** The settings of ServeConfig the facade uses. */
export type ApiConfig = Pick<
  ServeConfig,
  | 'host'
  | 'port'
  | 'auth'
  | 'jwtSecretFile'
  | 'apiTokenFile'
  | 'jwtAccessTtlSeconds'
  | 'jwtRefreshTtlSeconds'
  | 'rateLimitPerMinute'
  | 'trustedProxies'
  | 'bodyLimitBytes'
  | 'metricsAddress'
  | 'stromboliApiVersion'
>;

/** The per-client rate limit window: the flag counts requests per minute. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * Decides whether the API needs credentials and loads them, before anything else starts: a server
 * that must not run open refuses here (setupAuth throws).
 */
export async function prepareAuth(config: ApiConfig, stateDir: string, env: Readonly<Record<string, string | undefined>>, log: RootLogger): Promise<AuthSetup> {
  const auth = await setupAuth({
    mode: config.auth,
    host: config.host,
    env,
    revocationsPath: join(stateDir, 'auth', 'revoked-tokens.json'),
    accessTtlSeconds: config.jwtAccessTtlSeconds,
    refreshTtlSeconds: config.jwtRefreshTtlSeconds,
    ...(config.jwtSecretFile === undefined ? {} : { jwtSecretFile: resolve(config.jwtSecretFile) }),
    ...(config.apiTokenFile === undefined ? {} : { apiTokenFile: resolve(config.apiTokenFile) }),
  });
  for (const file of auth.exposedFiles) log.warn({ file }, 'credential file is readable by other users: chmod 600 it');
  return auth;
}

export interface ApiServerOptions {
  ports: Ports;
  config: ApiConfig;
  auth: AuthSetup;
  /** The node agent's counters and timings, served by the metrics listener when one is configured. */
  agentMetrics?: AgentMetrics;
  /** A span per request. Default: none. */
  tracing?: Tracing;
  log: RootLogger;
}

/** A listening facade. */
export interface ApiServer {
  /** Where the API listens, e.g. http://127.0.0.1:8585. */
  url: string;
  app: Awaited<ReturnType<typeof buildApp>>;
  /** Where the metrics are served (`--metrics-address`); undefined without. */
  metricsUrl?: string;
  /** Stops the metrics listener and the API (waiting requests answer 503, runs go on). */
  close(): Promise<void>;
}

/** Builds the app and listens on the API address, and on the metrics address when configured. */
export async function startApi(options: ApiServerOptions): Promise<ApiServer> {
  const { ports, config, auth, log } = options;
  const agentMetrics = options.agentMetrics;
  // A facade without a node agent in its process (Kubernetes mode) serves its request metrics only.
  const metrics = config.metricsAddress === undefined ? undefined : new Metrics(agentMetrics === undefined ? {} : { loop: agentMetrics.loop, runs: agentMetrics.runs });
  if (metrics !== undefined) agentMetrics?.observeLoop(metrics.loopObserver);
  const app = await buildApp(ports, {
    logger: log.child({ component: 'api' }),
    version: await packageVersion(),
    auth: auth.app,
    bodyLimit: config.bodyLimitBytes,
    apiShapes: shapesFor(config.stromboliApiVersion),
    ...compact({ tracing: options.tracing }),
    trustedProxies: config.trustedProxies,
    ...(config.rateLimitPerMinute === 0 ? {} : { rateLimit: { max: config.rateLimitPerMinute, timeWindowMs: RATE_LIMIT_WINDOW_MS } }),
    ...compact({ metrics }),
  });
  const url = await app.listen({ host: config.host, port: config.port });
  if (!auth.decision.enabled) log.warn({ url }, auth.decision.summary);
  let metricsListener: MetricsListener | undefined;
  if (metrics !== undefined && config.metricsAddress !== undefined) {
    try {
      metricsListener = await listenMetrics(metrics, parseHostPort(config.metricsAddress));
    } catch (err) {
      // The API is up but the server cannot start as configured: take it down again.
      await app.close();
      throw err;
    }
    log.info({ url: metricsListener.url }, 'metrics serving');
  }
  return {
    url,
    app,
    ...compact({ metricsUrl: metricsListener?.url }),
    async close() {
      await metricsListener?.close();
      await app.close();
    },
  };
}

/** The version in package.json, shown by /health and the OpenAPI document. */
async function packageVersion(): Promise<string> {
  const pkg: unknown = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0-dev';
}
