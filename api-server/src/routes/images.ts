// Images (stromboli.md §1.9): local list and detail, ranked for the Claude CLI; search and pull
// against the one configured registry (RegistryPort). Without a registry, search and pull
// validate their input as Stromboli does and then answer 503 with what to do instead.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, NotFoundError, ValidationError } from '../../../contract/errors.ts';
import { errorOnly } from '../plugins/envelopes.ts';
import type { ImageInfo, ImagePort, RegistryPort } from '../../../contract/ports.ts';
import { compact } from '../../../contract/compact.ts';

export const NO_REGISTRY_SEARCH = 'image search is not available: no container registry is configured; GET /images lists the local images';
export const NO_REGISTRY_PULL = "image pull is not available: no container registry is configured; build images locally ('stromboli images build') or load them ('podman load')";

const RANK_DESCRIPTIONS: Record<ImageInfo['rank'], string> = {
  1: 'Stromboli agent image: the Claude Code CLI is installed',
  2: 'verified compatible',
  3: 'standard image: compatibility not verified',
  4: 'incompatible: musl or no C library (Alpine, distroless, busybox, scratch)',
};

const ImageSchema = z.object({
  id: z.string(),
  repository: z.string(),
  tag: z.string(),
  size: z.number().int().describe('Bytes.'),
  created: z.string().describe('YYYY-MM-DDTHH:MM:SSZ, or "" when podman does not say.'),
  compatibility_rank: z.number().int().min(1).max(4).describe('1 agent image, 2 verified compatible, 3 standard, 4 incompatible.'),
  compatible: z.boolean(),
  tools: z.array(z.string()).optional(),
  has_claude_cli: z.boolean(),
  description: z.string().optional(),
});
const ImageDetailSchema = ImageSchema.extend({ labels: z.record(z.string(), z.string()).optional(), rank_description: z.string() });
const ErrorBody = z.object({ error: z.string() });

function toBody(image: ImageInfo): z.infer<typeof ImageSchema> {
  return {
    id: image.id,
    repository: image.repository,
    tag: image.tag,
    size: image.sizeBytes,
    // Stromboli's format has no fractional seconds.
    created: image.created === undefined ? '' : image.created.replace(/\.\d+Z$/, 'Z'),
    compatibility_rank: image.rank,
    compatible: image.compatible,
    has_claude_cli: image.hasClaudeCli,
    ...compact({ description: image.description }),
  };
}

const SearchResultSchema = z.object({ index: z.string(), name: z.string(), description: z.string(), stars: z.number().int(), official: z.boolean(), automated: z.boolean() });
const DEFAULT_SEARCH_LIMIT = 25;
const MAX_SEARCH_LIMIT = 100;

export interface ImageRoutesOptions {
  images: ImagePort;
  /** The registry search and pull use; default none: both answer 503. */
  registry?: RegistryPort;
}

export const imageRoutes: FastifyPluginAsync<ImageRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/images',
    {
      schema: { tags: ['images'], summary: 'Local images, best rank first', response: { 200: z.object({ images: z.array(ImageSchema) }), 500: ErrorBody, 503: ErrorBody } },
      config: { errorEnvelope: errorOnly('failed to list images') },
    },
    async () => ({ images: (await opts.images.list()).map(toBody) }),
  );

  app.get(
    '/images/search',
    {
      schema: {
        tags: ['images'],
        summary: 'Search the configured registry (503 when none is configured)',
        querystring: z.object({ q: z.string().optional(), limit: z.string().optional().describe('1-100, default 25; more is read as 100.'), no_trunc: z.string().optional() }),
        response: { 200: z.object({ results: z.array(SearchResultSchema) }), 400: ErrorBody, 502: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: errorOnly('registry search failed') },
    },
    async (request) => {
      const { q, limit, no_trunc: noTrunc } = request.query;
      if (q === undefined || q.trim() === '') throw new ValidationError("query parameter 'q' is required");
      if (limit !== undefined && (!/^\d{1,9}$/.test(limit) || Number(limit) < 1)) throw new ValidationError('invalid limit parameter');
      if (opts.registry === undefined) throw new AppError('UNAVAILABLE', NO_REGISTRY_SEARCH);
      const hits = await opts.registry.search({
        term: q.trim(),
        limit: Math.min(limit === undefined ? DEFAULT_SEARCH_LIMIT : Number(limit), MAX_SEARCH_LIMIT),
        noTrunc: noTrunc === 'true' || noTrunc === '1',
      });
      return { results: hits };
    },
  );

  app.post(
    '/images/pull',
    {
      schema: {
        tags: ['images'],
        summary: 'Pull from the configured registry (503 when none is configured)',
        body: z.object({ image: z.string().min(1), platform: z.string().optional(), quiet: z.boolean().optional().describe('Accepted; the pull is always quiet.') }),
        response: { 200: z.object({ success: z.literal(true), image_id: z.string(), image: z.string() }), 400: ErrorBody, 500: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: errorOnly('failed to pull image') },
    },
    async (request) => {
      if (opts.registry === undefined) throw new AppError('UNAVAILABLE', NO_REGISTRY_PULL);
      const { image, platform } = request.body;
      const pulled = await opts.registry.pull({ image, ...compact({ platform }) });
      return { success: true as const, image_id: pulled.imageId, image: pulled.image };
    },
  );

  app.get(
    '/images/:name',
    {
      schema: {
        tags: ['images'],
        summary: 'One local image (URL-encode the "/" of a name: /images/localhost%2Fstromboli%2Fagent%3Alatest)',
        params: z.object({ name: z.string().max(512) }),
        response: { 200: ImageDetailSchema, 400: ErrorBody, 404: ErrorBody, 500: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: errorOnly('failed to inspect image') },
    },
    async (request) => {
      const image = await opts.images.get(request.params.name);
      if (image === undefined) throw new NotFoundError('image not found');
      return { ...toBody(image), rank_description: RANK_DESCRIPTIONS[image.rank] };
    },
  );
};
