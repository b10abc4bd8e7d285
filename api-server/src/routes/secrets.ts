// User secrets over podman secrets (stromboli.md §1.8, §7; checklist items 41-42). A value goes
// in with POST and never comes out: no route returns it, and it is never logged.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isAppError } from '../../../contract/errors.ts';
import { errorOnlyEnvelope, nullList, successFalse } from '../plugins/envelopes.ts';
import type { SecretInfo, SecretPort } from '../../../contract/ports.ts';
import type { ApiShapes } from '../stromboli/api-version.ts';
import { requestShapes } from '../stromboli/api-version.ts';

const SecretSchema = z.object({
  id: z.string(),
  name: z.string(),
  created_at: z.string().describe('As podman reports it (may be relative, e.g. "10 days ago"); "" when unknown.'),
});
const SecretListSchema = z.object({
  secrets: z
    .union([z.array(SecretSchema), z.array(z.string())])
    .nullable()
    .describe('{id, name, created_at} objects (0.5 shapes, the default), or the names alone for a request in 0.3/0.4 shapes (X-Stromboli-Api-Version).'),
  error: z.string().optional(),
});
const SuccessBody = z.object({ success: z.boolean(), name: z.string().optional(), error: z.string().optional() });
const ErrorBody = z.object({ error: z.string() });
const NameParams = z.object({ name: z.string().max(253).describe('Secret name: letters, digits, "_" and "-".') });
const CreateBody = z.object({
  name: z.string().describe('Letters, digits, "_" and "-" (not starting with "-"), at most 253 characters.'),
  value: z.string().meta({ format: 'password', writeOnly: true }).describe('The secret value, 1 to 511999 bytes; never returned.'),
});

function toBody(secret: SecretInfo): z.infer<typeof SecretSchema> {
  return { id: secret.id, name: secret.name, created_at: secret.createdAt ?? '' };
}

export interface SecretRoutesOptions {
  secrets: SecretPort;
  /** The answer shapes of a request that names no version (stromboli/api-version.ts). Default 'v0.5'. */
  shapes?: ApiShapes;
}

export const secretRoutes: FastifyPluginAsync<SecretRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/secrets',
    {
      schema: { tags: ['secrets'], summary: 'List podman secrets (names only, never values)', response: { 200: SecretListSchema, 500: SecretListSchema, 503: SecretListSchema } },
      config: { errorEnvelope: nullList('secrets', 'failed to list secrets') },
    },
    async (request) => {
      const shapes = requestShapes(request.headers, opts.shapes ?? 'v0.5');
      const secrets = await opts.secrets.list();
      return { secrets: shapes === 'v0.3' ? secrets.map((secret) => secret.name) : secrets.map(toBody) };
    },
  );

  app.post(
    '/secrets',
    {
      schema: {
        tags: ['secrets'],
        summary: 'Create a podman secret',
        body: CreateBody,
        response: { 201: SuccessBody, 400: SuccessBody, 409: SuccessBody, 500: SuccessBody, 503: SuccessBody },
      },
      config: { errorEnvelope: successFalse('failed to create secret') },
    },
    async (request, reply) => {
      const { name, value } = request.body;
      try {
        await opts.secrets.create(name, value);
      } catch (err) {
        if (isAppError(err) && err.code === 'ALREADY_EXISTS') return reply.code(409).send({ success: false, name, error: 'secret already exists' });
        throw err;
      }
      return reply.code(201).send({ success: true, name });
    },
  );

  app.get(
    '/secrets/:name',
    {
      schema: { tags: ['secrets'], summary: "A secret's metadata (never its value)", params: NameParams, response: { 200: SecretSchema, 400: ErrorBody, 404: ErrorBody, 500: ErrorBody, 503: ErrorBody } },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async (request, reply) => {
      const secret = await opts.secrets.get(request.params.name);
      if (secret === undefined) return reply.code(404).send({ error: 'secret not found' });
      return toBody(secret);
    },
  );

  app.delete(
    '/secrets/:name',
    {
      schema: { tags: ['secrets'], summary: 'Delete a podman secret', params: NameParams, response: { 200: SuccessBody, 400: SuccessBody, 404: SuccessBody, 500: SuccessBody, 503: SuccessBody } },
      config: { errorEnvelope: successFalse('failed to delete secret') },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (!(await opts.secrets.remove(name))) return reply.code(404).send({ success: false, name, error: 'secret not found' });
      return { success: true, name };
    },
  );
};
