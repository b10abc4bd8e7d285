// GET /health (public, never rate-limited, always 200) and GET /claude/status (protected).
// Components: `podman` and `claude-credentials-secret`: our credentials are podman secrets (or an
// API endpoint in the server's environment), so Stromboli's `claude-credentials-file` has no
// counterpart (docs/compatibility.md).
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HealthPort } from '../../../contract/ports.ts';
import { errorOnlyEnvelope } from '../plugins/envelopes.ts';
import { STROMBOLI_API_VERSION } from '../stromboli/api-version.ts';

const ComponentSchema = z.object({
  name: z.string().describe('podman | claude-credentials-secret'),
  status: z.enum(['ok', 'error']),
  error: z.string().optional().describe('Why the component is failing.'),
});

export const HealthResponseSchema = z
  .object({
    status: z.enum(['ok', 'degraded']).describe('degraded when any component is failing; the HTTP status stays 200.'),
    name: z.literal('stromboli'),
    version: z.string().describe("This server's own version."),
    api_version: z.literal(STROMBOLI_API_VERSION).describe('The Stromboli HTTP API version this server answers like (docs/compatibility.md); an addition of ours, for clients that check it.'),
    components: z.array(ComponentSchema).optional(),
  })
  .describe('Health check response');

export const ClaudeStatusSchema = z.object({ configured: z.boolean(), message: z.string() }).describe('Claude configuration status');

export interface HealthRoutesOptions {
  /** Absent: /health answers ok without components (Stromboli's fallback). */
  health?: HealthPort;
  /** The server's version, shown by /health. */
  version: string;
}

/** GET /health: registered outside the rate-limited and authenticated scopes. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/health',
    { schema: { tags: ['health'], summary: 'Health of the server, podman and the Claude credentials (public, always 200)', response: { 200: HealthResponseSchema } } },
    async () => {
      const about = { name: 'stromboli' as const, version: opts.version, api_version: STROMBOLI_API_VERSION };
      if (opts.health === undefined) return { status: 'ok' as const, ...about };
      const components = await opts.health.check();
      const status = components.every((c) => c.status === 'ok') ? ('ok' as const) : ('degraded' as const);
      return { status, ...about, components };
    },
  );
};

export interface ClaudeStatusRoutesOptions {
  health: HealthPort;
}

export const CLAUDE_CONFIGURED = 'Claude is configured';
/** Stromboli says "Run 'make claude-setup' to configure"; our credentials are set up differently. */
export const CLAUDE_NOT_CONFIGURED = 'Claude is not configured: agent containers get no credentials podman secret and no API endpoint (see GET /health)';

/** GET /claude/status: protected. */
export const claudeStatusRoutes: FastifyPluginAsync<ClaudeStatusRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/claude/status',
    {
      schema: { tags: ['health'], summary: 'Whether runs get Claude credentials', response: { 200: ClaudeStatusSchema } },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async () => {
      const configured = await opts.health.claudeConfigured();
      return { configured, message: configured ? CLAUDE_CONFIGURED : CLAUDE_NOT_CONFIGURED };
    },
  );
};
