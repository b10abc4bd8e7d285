// The OpenAPI document, generated from the routes' zod schemas (@fastify/swagger with
// fastify-type-provider-zod's transform), served at /openapi.json, with a browsable page at
// /docs (@fastify/swagger-ui). Both are public: the document holds no secret, and clients
// need it before they have a token. Must be registered before any route.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { BEARER_SCHEME } from './auth.ts';

export interface OpenApiOptions {
  /** The server's version, the document's info.version. */
  version: string;
}

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

export async function registerOpenApi(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Stromboli controller API',
        description:
          "Stromboli's HTTP API (runs, jobs, sessions, secrets, images, auth) over AgentRun resources, plus the native AgentRun API under /apis. Generated from the route schemas.",
        version: options.version,
      },
      components: {
        securitySchemes: { [BEARER_SCHEME]: { type: 'http', scheme: 'bearer', description: 'A JWT from POST /auth/token, or a static API token.' } },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
