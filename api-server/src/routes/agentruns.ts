// The native AgentRun API, shaped after the Kubernetes REST paths, used by the `stromboli` CLI
// (get, apply, delete, cancel, logs). Stromboli's own endpoints are other route groups.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  API_VERSION,
  AgentRunSpecSchema,
  KIND,
  ObjectMetaSchema,
  describeZodError,
} from '../../../contract/apis/v1alpha1/index.ts';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import type { LogReader, ManifestProblem, NewRun, RunStore, StoredRun } from '../../../contract/ports.ts';
import { ErrorBodySchema, StoredRunSchema } from '../schemas.ts';
import { compact } from '../../../contract/compact.ts';
import { RunListJson } from './run-list-json.ts';

/** A JSON body already serialized with the route's schema (run-list-json.ts) goes out as it is: Fastify skips its serializer for a string. */
function sendSerialized(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

export interface AgentRunRoutesOptions {
  runs: RunStore;
  logs: LogReader;
  problems?: () => ManifestProblem[];
  defaultNamespace: string;
}

export const API_PREFIX = `/apis/${API_VERSION}`;

const Name = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/).max(253);
const Namespace = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const NsParams = z.object({ namespace: Namespace });
const NameParams = z.object({ namespace: Namespace, name: Name });
const RunBody = z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: z.looseObject({}), spec: z.unknown() });
const Run = StoredRunSchema;
const ListMetadata = z
  .object({
    continue: z.string().optional().describe('Present when more runs may follow: pass it as `continue` for the next page.'),
    remainingItemCount: z.number().int().optional().describe('How many runs follow this page (when the store knows it cheaply).'),
  })
  .describe('Only in answers to a paged request (`limit` or `continue`), as kube-apiserver sends it.');
const Problems = z.array(z.object({ path: z.string(), error: z.string() }));
/** The list answer; exported so a test can hold the cached serializer to this schema's bytes. */
export const RunListSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal(`${KIND}List`),
  metadata: ListMetadata.optional(),
  items: z.array(Run),
  problems: Problems,
});
/** Kubernetes list chunking (kubernetes-conventions.md): `limit` bounds the page, `continue` resumes. */
const ListQuery = z.object({
  limit: z.coerce.number().int().min(0).optional().describe('At most this many runs; 0 or absent: every run (one answer).'),
  continue: z.string().min(1).optional().describe('The metadata.continue of the previous page, unchanged.'),
});
const ErrorBody = ErrorBodySchema;

/** Validates a manifest as the Kubernetes API server would with our CRD: a bad spec never gets in. */
function parseManifest(body: unknown, namespace: string, name?: string): { metadata: z.infer<typeof ObjectMetaSchema>; spec: unknown } {
  const parsed = RunBody.safeParse(body);
  if (!parsed.success) throw new ValidationError(`invalid AgentRun: ${describeZodError(parsed.error)}`);
  if (parsed.data.apiVersion !== API_VERSION || parsed.data.kind !== KIND) {
    throw new ValidationError(`expected apiVersion ${API_VERSION} and kind ${KIND}, got ${parsed.data.apiVersion} ${parsed.data.kind}`);
  }
  const metadata = ObjectMetaSchema.safeParse(parsed.data.metadata);
  if (!metadata.success) throw new ValidationError(`invalid AgentRun: ${describeZodError(metadata.error, 'metadata')}`);
  if (metadata.data.namespace !== undefined && metadata.data.namespace !== namespace) {
    throw new ValidationError(`metadata.namespace ${metadata.data.namespace} does not match the request namespace ${namespace}`);
  }
  if (name !== undefined && metadata.data.name !== name) throw new ValidationError(`metadata.name ${metadata.data.name} does not match the request name ${name}`);
  const spec = AgentRunSpecSchema.safeParse(parsed.data.spec);
  if (!spec.success) throw new ValidationError(`invalid AgentRun: ${describeZodError(spec.error, 'spec')}`);
  return { metadata: metadata.data, spec: parsed.data.spec };
}

export const agentRunRoutes: FastifyPluginAsync<AgentRunRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const json = new RunListJson<StoredRun>({ itemSchema: Run, metadataSchema: ListMetadata, problemsSchema: Problems });
  const listSchema = { querystring: ListQuery, response: { 200: RunListSchema, 400: ErrorBody, 410: ErrorBody } };

  /** One list answer: the whole list (unchanged bytes) or, with limit/continue, a page with its metadata. */
  async function listBody(query: z.infer<typeof ListQuery>, namespace: string | undefined): Promise<string> {
    const selector = namespace === undefined ? {} : { namespace };
    const parts = { apiVersion: API_VERSION, kind: `${KIND}List`, problems: opts.problems?.() ?? [] };
    const limit = query.limit === 0 ? undefined : query.limit;
    if (limit === undefined && query.continue === undefined) return json.render(parts, await opts.runs.list(selector), namespace === undefined);
    const page = await opts.runs.listPage({ ...selector, ...compact({ limit, continue: query.continue }) });
    const metadata = compact({ continue: page.continue, remainingItemCount: page.remainingItemCount });
    return json.render({ ...parts, metadata }, page.items, false);
  }

  app.get('/agentruns', { schema: { tags: ['agentruns'], summary: 'List AgentRuns in every namespace', ...listSchema } }, async (request, reply) =>
    sendSerialized(reply, await listBody(request.query, undefined)),
  );

  app.get(
    '/namespaces/:namespace/agentruns',
    { schema: { tags: ['agentruns'], summary: 'List AgentRuns', params: NsParams, ...listSchema } },
    async (request, reply) => sendSerialized(reply, await listBody(request.query, request.params.namespace)),
  );

  app.post(
    '/namespaces/:namespace/agentruns',
    { schema: { tags: ['agentruns'], summary: 'Create an AgentRun', params: NsParams, body: RunBody, response: { 201: Run, 400: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      const { metadata, spec } = parseManifest(request.body, request.params.namespace);
      const created = await opts.runs.create({ apiVersion: API_VERSION, kind: KIND, metadata: newMetadata(metadata, request.params.namespace), spec });
      return reply.code(201).send(created);
    },
  );

  app.put(
    '/namespaces/:namespace/agentruns/:name',
    {
      schema: {
        tags: ['agentruns'],
        summary: 'Apply an AgentRun: create it, or replace its spec',
        params: NameParams,
        body: RunBody,
        response: { 200: Run, 201: Run, 400: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const { namespace, name } = request.params;
      const { metadata, spec } = parseManifest(request.body, namespace, name);
      try {
        const existing = await opts.runs.get({ namespace, name });
        const patch = replacementPatch(existing.spec, spec);
        const updated = Object.keys(patch).length === 0 ? existing : await opts.runs.patchSpec({ namespace, name }, patch, existing.metadata.resourceVersion);
        return reply.code(200).send(updated);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
      }
      const created = await opts.runs.create({ apiVersion: API_VERSION, kind: KIND, metadata: newMetadata(metadata, namespace), spec });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/namespaces/:namespace/agentruns/:name',
    { schema: { tags: ['agentruns'], summary: 'Read an AgentRun with its status', params: NameParams, response: { 200: Run, 404: ErrorBody } } },
    async (request) => opts.runs.get(request.params),
  );

  app.delete(
    '/namespaces/:namespace/agentruns/:name',
    { schema: { tags: ['agentruns'], summary: 'Delete an AgentRun (its container is stopped and removed)', params: NameParams, response: { 200: z.object({ deleted: z.boolean() }), 403: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      await opts.runs.delete(request.params);
      return { deleted: true };
    },
  );

  app.post(
    '/namespaces/:namespace/agentruns/:name/cancel',
    { schema: { tags: ['agentruns'], summary: 'Cancel an AgentRun (sets spec.cancel; final)', params: NameParams, response: { 200: Run, 404: ErrorBody } } },
    async (request) => opts.runs.patchSpec(request.params, { cancel: true }),
  );

  app.get(
    '/namespaces/:namespace/agentruns/:name/log',
    {
      schema: {
        tags: ['agentruns'],
        summary: "The run's stream-json transcript, one event per line; follow=true streams until the run ends",
        params: NameParams,
        querystring: z.object({ follow: z.enum(['true', 'false', '1', '0']).optional(), attempt: z.coerce.number().int().min(1).optional() }),
      },
    },
    async (request, reply) => {
      const run = await opts.runs.get(request.params);
      const follow = request.query.follow === 'true' || request.query.follow === '1';
      const controller = new AbortController();
      request.raw.on('close', () => controller.abort());
      const lines = opts.logs.lines(run, { follow, signal: controller.signal, ...compact({ attempt: request.query.attempt }) })[Symbol.asyncIterator]();
      // What comes first (a line, the end, or an error such as an unreachable node agent) decides
      // the answer when it comes soon: an error then answers as JSON, before the stream begins.
      const first = lines.next();
      if (await settlesWithin(first, FIRST_LINE_WAIT_MS)) await first;
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'x-request-id': request.id, 'cache-control': 'no-cache' });
      try {
        for (let next = await first; next.done !== true; next = await lines.next()) {
          if (!reply.raw.write(`${next.value}\n`)) await new Promise((resolve) => reply.raw.once('drain', resolve));
        }
        reply.raw.end();
      } catch (err) {
        // Headers are out: cut the response, so the client sees a broken stream rather than a complete log.
        request.log.warn({ err, agentRun: `${run.metadata.namespace}/${run.metadata.name}` }, 'log stream failed');
        reply.raw.destroy();
      } finally {
        await lines.return?.();
      }
      return reply;
    },
  );
};

/** How long the log route waits for its first line before it starts the stream: longer than a node agent's connect timeout (5 s). */
const FIRST_LINE_WAIT_MS = 6_000;

/** Whether `promise` settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function newMetadata(metadata: z.infer<typeof ObjectMetaSchema>, namespace: string): NewRun['metadata'] {
  return {
    name: metadata.name,
    namespace,
    ...compact({ labels: metadata.labels }),
    ...compact({ annotations: metadata.annotations }),
  };
}

/** A JSON merge patch (RFC 7386) that turns `current` into `next`: removed keys become null, at every depth. */
export function replacementPatch(current: unknown, next: unknown): Record<string, unknown> {
  const cur = isPlainObject(current) ? current : {};
  const nxt = isPlainObject(next) ? next : {};
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(cur)) if (!(key in nxt)) patch[key] = null;
  for (const [key, value] of Object.entries(nxt)) {
    const before = cur[key];
    if (isPlainObject(before) && isPlainObject(value)) {
      const inner = replacementPatch(before, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) {
      patch[key] = value;
    }
  }
  return patch;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
