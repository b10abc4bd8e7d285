// buildApp: the whole HTTP API as a Fastify instance that never listens by itself, so tests use
// app.inject and the entry points (cmd/) decide where to listen. Plugins first, then one plugin per route group.
// Three nested scopes: public (/health, /openapi.json, /docs) ⊃ rate-limited (/auth refresh,
// validate, logout) ⊃ authenticated (everything else). Stromboli's order: rate limit, then auth.
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { ApiTokens } from './auth/authenticate.ts';
import { JwtService } from './auth/jwt.ts';
import type { JwtServiceOptions } from './auth/jwt.ts';
import { MemoryRevocationList } from './auth/revocations.ts';
import type { RevocationList } from './auth/revocations.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerErrorHandling } from './plugins/error-handler.ts';
import type { Metrics } from './plugins/metrics.ts';
import { registerOpenApi } from './plugins/openapi.ts';
import { registerRateLimit } from './plugins/rate-limit.ts';
import type { RateLimitOptions } from './plugins/rate-limit.ts';
import { registerRequestId, requestIdFor } from './plugins/request-id.ts';
import { API_PREFIX, agentRunRoutes } from './routes/agentruns.ts';
import { authRoutes, authTokenRoutes } from './routes/auth.ts';
import { claudeStatusRoutes, healthRoutes } from './routes/health.ts';
import { imageRoutes } from './routes/images.ts';
import { secretRoutes } from './routes/secrets.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { runFamily } from './routes/run-family.ts';
import type { ApiShapes } from './stromboli/api-version.ts';
import { registerTracing } from './plugins/tracing.ts';
import type { Tracing } from '../../contract/tracing.ts';
import type { Ports } from '../../contract/ports.ts';
import { compact } from '../../contract/compact.ts';

export interface AppAuthOptions {
  /** Whether protected routes require a token. */
  enabled: boolean;
  /** The JWT secret and lifetimes; absent: /auth/* answer 503 and only API tokens work. */
  jwt?: JwtServiceOptions;
  /** Static API tokens accepted as Bearer. Default none. */
  apiTokens?: readonly string[];
  /** Revoked JWT ids. Default: in memory (lost on restart; the embedded server persists them). */
  revocations?: RevocationList;
}

export interface AppOptions {
  /** A pino logger (or false for none). Default: none. */
  logger?: FastifyBaseLogger | false;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Shown by /health and the OpenAPI document. Default '0.0.0-dev'. */
  version?: string;
  /** Default: auth disabled and no JWT secret (unit tests; the composition root decides). */
  auth?: AppAuthOptions;
  /** Per-client limit of every route but /health and the docs. Default: none. */
  rateLimit?: RateLimitOptions;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For names the client. Default none: the TCP peer is the client. */
  trustedProxies?: readonly string[];
  /** Request metrics go here (served by their own listener, never by this app). Default: none. */
  metrics?: Metrics;
  /** Answer shapes of requests that name no Stromboli API version (stromboli/api-version.ts). Default 'v0.5'. */
  apiShapes?: ApiShapes;
  /** A span per request (plugins/tracing.ts). Default: none. */
  tracing?: Tracing;
}

export async function buildApp(ports: Ports, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === undefined || options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: requestIdFor,
    ...(options.trustedProxies === undefined || options.trustedProxies.length === 0 ? {} : { trustProxy: [...options.trustedProxies] }),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerRequestId(app);
  registerErrorHandling(app);
  options.metrics?.observe(app);
  if (options.tracing !== undefined) registerTracing(app, options.tracing);
  const version = options.version ?? '0.0.0-dev';
  await registerOpenApi(app, { version });

  const auth = options.auth ?? { enabled: false };
  const jwt = auth.jwt === undefined ? undefined : new JwtService(auth.jwt);
  const revocations = auth.revocations ?? new MemoryRevocationList();
  const authRouteOptions = { ...compact({ jwt }), revocations };

  await app.register(healthRoutes, { version, ...compact({ health: ports.health }) });
  await app.register(async (limited) => {
    if (options.rateLimit !== undefined) await registerRateLimit(limited, options.rateLimit);
    await limited.register(authRoutes, authRouteOptions);
    await limited.register(async (authenticated) => {
      registerAuth(authenticated, { enabled: auth.enabled, deps: { apiTokens: new ApiTokens(auth.apiTokens ?? []), revocations, ...compact({ jwt }) } });
      // Every route a client must authenticate for is registered here.
      await authenticated.register(authTokenRoutes, authRouteOptions);
      await authenticated.register(agentRunRoutes, {
        prefix: API_PREFIX,
        runs: ports.runs,
        logs: ports.logs,
        ...compact({ problems: ports.problems }),
        defaultNamespace: ports.defaultNamespace ?? 'default',
      });
      await authenticated.register(runFamily, {
        runs: ports.runs,
        logs: ports.logs,
        namespace: ports.defaultNamespace ?? 'default',
        ...compact({ webhooks: ports.webhooks }),
        ...(ports.health === undefined ? {} : { claudeConfigured: ports.health.claudeConfigured.bind(ports.health) }),
      });
      if (ports.health !== undefined) await authenticated.register(claudeStatusRoutes, { health: ports.health });
      const shapes = options.apiShapes ?? 'v0.5';
      if (ports.sessions !== undefined) await authenticated.register(sessionRoutes, { sessions: ports.sessions, shapes });
      if (ports.secrets !== undefined) await authenticated.register(secretRoutes, { secrets: ports.secrets, shapes });
      if (ports.images !== undefined) await authenticated.register(imageRoutes, { images: ports.images, ...compact({ registry: ports.registry }) });
    });
  });
  return app;
}
