// buildApp: the whole HTTP API as a Fastify instance that never listens by itself, so tests use
// app.inject and main.ts decides where to listen. Plugins first, then one plugin per route group.
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerErrorHandling } from './plugins/error-handler.ts';
import { registerRequestId, requestIdFor } from './plugins/request-id.ts';
import { API_PREFIX, agentRunRoutes } from './routes/agentruns.ts';
import type { Ports } from './ports.ts';

export interface AppOptions {
  /** A pino logger (or false for none). Default: none. */
  logger?: FastifyBaseLogger | false;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
}

export async function buildApp(ports: Ports, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === undefined || options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: requestIdFor,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerRequestId(app);
  registerErrorHandling(app);
  await app.register(agentRunRoutes, {
    prefix: API_PREFIX,
    runs: ports.runs,
    logs: ports.logs,
    ...(ports.problems === undefined ? {} : { problems: ports.problems }),
    defaultNamespace: ports.defaultNamespace ?? 'default',
  });
  return app;
}
