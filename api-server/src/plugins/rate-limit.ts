// Per-client rate limiting of everything but /health and the docs (@fastify/rate-limit lives
// only here). Keyed by client IP, which honours X-Forwarded-For only from the trusted proxies
// given to buildApp (Fastify's trustProxy), as Stromboli does. Registered in the scope that
// holds the /auth endpoints and, nested inside, the authenticated routes: its per-route hook is
// added before the auth hook, so an unauthenticated flood is limited too.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { addResponseSchema } from './auth.ts';
import { EdgeError, EdgeErrorBodySchema } from './edge-error.ts';

export interface RateLimitOptions {
  /** Requests each client may make per window. */
  max: number;
  /** Window length in ms. Default 60 000. */
  timeWindowMs?: number;
}

/** Stromboli's 429 text, verbatim. */
export const RATE_LIMITED = 'rate limit exceeded';

export async function registerRateLimit(scope: FastifyInstance, options: RateLimitOptions): Promise<void> {
  if (!Number.isInteger(options.max) || options.max < 1) throw new TypeError(`rate limit max must be a positive integer, got ${String(options.max)}`);
  // Documented on every limited route; added before the plugin so its own onRoute sees the final schema.
  scope.addHook('onRoute', (route) => addResponseSchema(route, 429, EdgeErrorBodySchema));
  await scope.register(rateLimit, {
    global: true,
    max: options.max,
    timeWindow: options.timeWindowMs ?? 60_000,
    hook: 'onRequest',
    errorResponseBuilder: () => new EdgeError('TOO_MANY_REQUESTS', RATE_LIMITED),
  });
}
