// The embedded server's configuration: one zod schema, every default named here. Flags are
// parsed by the CLI into this shape; nothing else reads process.env for settings.
import { z } from 'zod';

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
  image: z.string().min(1).default('localhost/stromboli/agent:latest'),
  /** podman --network of agent containers. Default: podman's default network. */
  containerNetwork: z.string().min(1).optional(),
  /** ANTHROPIC_BASE_URL given to agent containers (gateways, proxies, test fakes). Default: the CLI's own. */
  anthropicBaseUrl: z.url().optional(),
  /** A Claude credentials file (as `claude login` writes it) given to containers as a podman secret. Default: none (ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN from the environment are used when set). */
  claudeCredentialsFile: z.string().min(1).optional(),
  /** Extra non-secret environment for agent containers (proxies, CLAUDE_CODE_* switches). Default: none. Secrets go through podman secrets, never here. */
  containerEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _'), z.string()).default({}),
  /** Reconciles at once. Default 4. */
  workers: z.int().min(1).max(64).default(4),
  /** Full resync period in ms. Default 5 minutes. */
  resyncMs: z.int().min(1000).default(300_000),
  /** How often a running container is looked at without events, in ms. Default 10 s. */
  pollMs: z.int().min(100).default(10_000),
  /** Delay before a retried attempt (doubles per attempt), in ms. Default 2 s. */
  retryDelayMs: z.int().min(0).default(2_000),
  /** Namespace of manifests that name none. Default 'default'. */
  defaultNamespace: z.string().min(1).default('default'),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;
export type ServeConfigInput = z.input<typeof ServeConfigSchema>;
