// The auth hook of the protected scope. Registered only inside that scope (STYLE.md rule 16):
// public routes (/health, /openapi.json, /docs, the token-checking /auth endpoints) never see it.
// It is attached per route, after the rate limiter's hook, so floods are limited before any
// token is checked (Stromboli's order). Failures are EdgeErrors: `{"error": ...}` everywhere.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify';
import { authenticate } from '../auth/authenticate.ts';
import type { AuthenticateDeps } from '../auth/authenticate.ts';
import { EdgeError, EdgeErrorBodySchema } from './edge-error.ts';

export interface AuthHookOptions {
  /** False: every request passes (the loopback default, logged at start). */
  enabled: boolean;
  deps: AuthenticateDeps;
}

/** Name of the OpenAPI security scheme (components.securitySchemes). */
export const BEARER_SCHEME = 'bearerAuth';

/** Appends `hook` to a route's own onRequest hooks, after any added before (the rate limiter's). */
export function appendOnRequest(route: RouteOptions, hook: onRequestHookHandler): void {
  const existing = route.onRequest;
  route.onRequest = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
}

/** Adds an error response to a route's schema when the route does not declare that status itself. */
export function addResponseSchema(route: RouteOptions, status: number, schema: unknown): void {
  const current = route.schema ?? {};
  const response = (current.response ?? {}) as Record<string, unknown>;
  if (String(status) in response) return;
  route.schema = { ...current, response: { ...response, [status]: schema } };
}

export function registerAuth(scope: FastifyInstance, options: AuthHookOptions): void {
  const hook = async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const result = await authenticate(request.headers.authorization, options.deps);
    if (!result.ok) throw new EdgeError(result.code, result.message);
  };
  scope.addHook('onRoute', (route) => {
    if (!options.enabled) return;
    appendOnRequest(route, hook);
    addResponseSchema(route, 401, EdgeErrorBodySchema);
    addResponseSchema(route, 503, EdgeErrorBodySchema);
    route.schema = { ...route.schema, security: [{ [BEARER_SCHEME]: [] }] };
  });
}
