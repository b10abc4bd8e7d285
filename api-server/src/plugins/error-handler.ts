// The API's one error handler. Known AppError codes map through the exhaustive table in
// errors.ts; schema failures answer 400; Fastify's own 4xx (bad JSON, body too large) keep their
// status; everything else is a generic 500, logged with the request. Route groups choose the JSON
// envelope (Stromboli has three) through `config.errorEnvelope`; the default is { code, message }.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../../../contract/errors.ts';
import { toHttpError } from '../errors.ts';
import { EdgeError } from './edge-error.ts';

/** Turns an error into the JSON body of a route family. */
export type ErrorEnvelope = (error: { statusCode: number; code: ErrorCode; message: string }) => unknown;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The error body shape of this route (Stromboli's families differ). */
    errorEnvelope?: ErrorEnvelope;
    /** 'text' answers errors as text/plain (Stromboli's /run/stream before streaming). */
    errorFormat?: 'json' | 'text';
  }
}

export const defaultEnvelope: ErrorEnvelope = ({ code, message }) => ({ code, message });

interface ZodLikeIssue {
  instancePath?: string;
  message?: string;
  params?: { issue?: { path?: PropertyKey[]; message?: string } };
}

function describeValidation(err: FastifyError): string {
  const issues = (err.validation ?? []) as ZodLikeIssue[];
  const parts = issues.slice(0, 5).map((issue) => {
    const path = issue.instancePath?.replace(/^\//, '').replace(/\//g, '.') ?? '';
    const message = issue.message ?? 'invalid';
    return path === '' ? message : `${path}: ${message}`;
  });
  const where = err.validationContext === undefined ? '' : `${err.validationContext} `;
  return `Invalid request: ${where}${parts.join('; ') || err.message}`;
}

function classify(err: FastifyError): { statusCode: number; code: ErrorCode; message: string; known: boolean } {
  if (err.validation !== undefined) return { statusCode: 400, code: 'VALIDATION', message: describeValidation(err), known: true };
  const http = toHttpError(err);
  if (http.code !== 'INTERNAL') return { ...http, known: true };
  // Fastify's own client errors (invalid JSON, body too large, unsupported media type) are safe to show.
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 && typeof err.code === 'string' && err.code.startsWith('FST_')) {
    const code: ErrorCode = err.statusCode === 429 ? 'TOO_MANY_REQUESTS' : 'VALIDATION';
    const message = err.statusCode === 400 ? `Invalid request: ${err.message}` : err.message;
    return { statusCode: err.statusCode, code, message, known: true };
  }
  return { ...http, known: false };
}

/** Registers the error and not-found handlers on the root instance. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const result = classify(err);
    if (!result.known) {
      request.log.error({ err, method: request.method, route: request.routeOptions.url }, 'request failed');
    }
    // Rate-limit and auth failures answer {"error"} on every route, as Stromboli's middleware
    // does; the plain serializer keeps a route's own 401/503 schema from rejecting that body.
    if (err instanceof EdgeError) {
      return reply.code(result.statusCode).type('application/json; charset=utf-8').serializer(JSON.stringify).send({ error: result.message });
    }
    const config = request.routeOptions.config;
    const envelope = config.errorEnvelope ?? defaultEnvelope;
    if (config.errorFormat === 'text') {
      return reply.code(result.statusCode).type('text/plain; charset=utf-8').send(result.message);
    }
    return reply.code(result.statusCode).send(envelope({ statusCode: result.statusCode, code: result.code, message: result.message }));
  });

  // Stromboli answers unknown paths and wrong methods with Gin's plain-text 404.
  app.setNotFoundHandler((_request: FastifyRequest, reply: FastifyReply) => {
    return reply.code(404).type('text/plain; charset=utf-8').send('404 page not found');
  });
}
