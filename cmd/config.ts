// The embedded server's configuration: one zod schema, every default named here. Flags are
// parsed by the CLI (cmd/stromboli.ts) into this shape; the environment variables a server reads
// (credentials, secrets that never go in flags, webhook settings) are read by the entry points
// from the environment they are given, and STROMBOLI_LOG_LEVEL by controller/src/log.ts.
import { z } from 'zod';
import { STROMBOLI_API_VERSION, isAnsweredVersion } from '../api-server/src/stromboli/api-version.ts';
import type { WebhookSettings } from '../contract/ports.ts';
import { DEFAULT_LOG_RETENTION_MS, DEFAULT_POLL_MS, DEFAULT_RETRY_DELAY_MS } from '../controller/src/agentrun/reconciler.ts';
import { DEFAULT_RESYNC_MS } from '../controller/src/reconcile/controller.ts';
import { DEFAULT_AGENT_IMAGE } from '../controller/src/runner/podman-runner.ts';
import { REGISTRY_HOST_PATTERN } from '../controller/src/catalog/registry.ts';

export const ServeConfigSchema = z.object({
  /** Watched directory of AgentRun manifests. Default ./runs. Never written to. */
  runsDir: z.string().min(1).default('./runs'),
  /** Status, logs, sessions and API-created runs. Default ./.stromboli. */
  stateDir: z.string().min(1).default('./.stromboli'),
  /** Default 127.0.0.1 (no auth needed on loopback). */
  host: z.string().min(1).default('127.0.0.1'),
  /** Default 8585 (Stromboli's port). 0 picks a free port. */
  port: z.int().min(0).max(65535).default(8585),
  /** Containers running at once; the rest wait, by priority then age. Default 4. */
  maxConcurrentRuns: z.int().min(1).max(1000).default(4),
  /** Host paths volumes may come from. Default none: every volume is refused. */
  allowedVolumes: z.array(z.string().min(1)).default([]),
  /** A containers.conf for podman (CONTAINERS_CONF). Default: podman's own configuration. */
  containersConf: z.string().min(1).optional(),
  /** Image of runs that name none. Default localhost/stromboli/agent:latest. */
  image: z.string().min(1).default(DEFAULT_AGENT_IMAGE),
  /**
   * The container registry GET /images/search and POST /images/pull use, HOST[:PORT] (e.g.
   * 127.0.0.1:5000); pulls are limited to it. Default: none, and both answer 503.
   */
  imageRegistry: z.string().regex(REGISTRY_HOST_PATTERN, 'HOST[:PORT], without a scheme or path').optional(),
  /** Talk to imageRegistry over plain http or unverified TLS (podman --tls-verify=false). Default 'off'. */
  imageRegistryInsecure: z.enum(['on', 'off']).default('off'),
  /**
   * Talk to podman through the node agent's own `podman system service` (the libpod REST API on
   * <stateDir>/podman.sock) instead of one CLI process per call. Default 'on'; where the service
   * cannot start, the agent falls back to the CLI and logs why once.
   */
  podmanApi: z.enum(['on', 'off']).default('on'),
  /** podman --network of agent containers. Default: podman's default network. */
  containerNetwork: z.string().min(1).optional(),
  /** ANTHROPIC_BASE_URL given to agent containers (gateways, proxies, test fakes). Default: the CLI's own. */
  anthropicBaseUrl: z.url().optional(),
  /** A Claude credentials file (as `claude login` writes it) given to containers as a podman secret. Default: none (ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN from the environment are used when set). */
  claudeCredentialsFile: z.string().min(1).optional(),
  /** Extra non-secret environment for agent containers (proxies, CLAUDE_CODE_* switches). Default: none. Secrets go through podman secrets, never here. */
  containerEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _'), z.string()).default({}),
  /**
   * Reconciles at once. Default: maxConcurrentRuns, at least 16 (workersFor): fewer workers than
   * slots would start a burst's containers in rounds, one podman call per worker at a time; and
   * each worker has at most one status write in flight, so the workers bound how many writes one
   * group commit carries (10,000 runs at start wrote their first status 4 at a time with 4).
   * Podman work stays bounded by the slots (maxConcurrentRuns containers).
   */
  workers: z.int().min(1).max(64).optional(),
  /** Full resync period in ms. Default 5 minutes. */
  resyncMs: z.int().min(1000).default(DEFAULT_RESYNC_MS),
  /** How often a running container is looked at without events, in ms. Default 10 s. */
  pollMs: z.int().min(100).default(DEFAULT_POLL_MS),
  /** Delay before a retried attempt (doubles per attempt), in ms. Default 2 s. */
  retryDelayMs: z.int().min(0).default(DEFAULT_RETRY_DELAY_MS),
  /** How long a deleted run's logs are kept when it sets no ttlSecondsAfterFinished, in seconds. Default 7 days. */
  logRetentionSeconds: z.int().min(0).default(DEFAULT_LOG_RETENTION_MS / 1000),
  /** Namespace of manifests that name none. Default 'default'. */
  defaultNamespace: z.string().min(1).default('default'),
  /**
   * API authentication. Default 'auto': required unless the API listens on loopback only and was
   * given no credentials; a non-loopback server without a usable credential refuses to start.
   */
  auth: z.enum(['auto', 'on', 'off']).default('auto'),
  /** File holding the JWT secret (>= 32 characters). Default: STROMBOLI_JWT_SECRET from the environment, else none. The value itself never goes in config or argv. */
  jwtSecretFile: z.string().min(1).optional(),
  /** File of static API tokens, one per line (# comments). Default: STROMBOLI_API_TOKENS (comma-separated), else none. */
  apiTokenFile: z.string().min(1).optional(),
  /** Access token lifetime in seconds. Default 86400 (24 h, Stromboli's). */
  jwtAccessTtlSeconds: z.int().min(60).default(86_400),
  /** Refresh token lifetime in seconds. Default 604800 (168 h, Stromboli's). */
  jwtRefreshTtlSeconds: z.int().min(60).default(604_800),
  /** Requests per minute each client may make to everything but /health and the docs; 0 turns limiting off. Default 600. */
  rateLimitPerMinute: z.int().min(0).default(600),
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For names the client for rate limiting. Default none. */
  trustedProxies: z.array(z.string().min(1)).default([]),
  /**
   * The Stromboli API version whose answer shapes a request that names none gets (0.3 and 0.4
   * list sessions and secrets as strings; docs/compatibility.md). A request's
   * X-Stromboli-Api-Version header wins. Default '0.5.7'.
   */
  stromboliApiVersion: z
    .string()
    .default(STROMBOLI_API_VERSION)
    .refine((version) => isAnsweredVersion(version), { message: 'must be a Stromboli API version this server answers: 0.3, 0.4 or 0.5 (e.g. 0.3.0-alpha)' }),
  /**
   * Where spans go (OpenTelemetry over OTLP/HTTP, JSON): a URL such as
   * http://collector:4318/v1/traces, or HOST:PORT as Stromboli's tracing.endpoint (https, or http
   * with tracingInsecure). Default: none, tracing off.
   */
  tracingEndpoint: z.string().min(1).optional(),
  /** With a HOST:PORT tracing endpoint: plain http instead of TLS (Stromboli's tracing.insecure). Default off. */
  tracingInsecure: z.enum(['on', 'off']).default('off'),
  /** Largest accepted request body in bytes. Default 1 MiB (Stromboli has no limit). */
  bodyLimitBytes: z.int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /** HOST:PORT of a separate Prometheus listener (GET /metrics), e.g. 127.0.0.1:9090. Default: none (metrics are never on the API port). */
  metricsAddress: z
    .string()
    .regex(/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:9090')
    .optional(),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;
export type ServeConfigInput = z.input<typeof ServeConfigSchema>;

/**
 * Async jobs' webhook settings from the environment: STROMBOLI_WEBHOOK_SIGNING_SECRET (Stromboli's
 * own variable; a secret, so never a flag) and STROMBOLI_WEBHOOK_ALLOW_PRIVATE=true (allow targets
 * on loopback and private networks, e.g. a receiver on this machine).
 */
export function webhookSettingsFrom(env: Readonly<Record<string, string | undefined>>): WebhookSettings {
  const secret = env.STROMBOLI_WEBHOOK_SIGNING_SECRET;
  return { ...(secret === undefined || secret === '' ? {} : { signingSecret: secret }), allowPrivateTargets: env.STROMBOLI_WEBHOOK_ALLOW_PRIVATE === 'true' };
}

/** HOST:PORT (metricsAddress, already checked by the schema) as a listen address; [::1]:9090 gives host ::1. */
export function parseHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

/** The fewest reconcile workers by default: enough for a start over thousands of runs to write their statuses in large groups. */
export const MIN_DEFAULT_WORKERS = 16;

/** The reconcile workers of a configuration: workers when set, else one per slot and at least MIN_DEFAULT_WORKERS. */
export function workersFor(config: Pick<ServeConfig, 'workers' | 'maxConcurrentRuns'>): number {
  return config.workers ?? Math.min(64, Math.max(MIN_DEFAULT_WORKERS, config.maxConcurrentRuns));
}
