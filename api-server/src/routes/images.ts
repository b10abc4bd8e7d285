// Local images (stromboli.md §1.9): list and detail, ranked for the Claude CLI. This product has
// no container registry, so search and pull validate their input as Stromboli does and then
// answer 503 with what to do instead; they never reach the network.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, NotFoundError, ValidationError } from '../../../contract/errors.ts';
import { errorOnly, errorOnlyEnvelope } from '../plugins/envelopes.ts';
import type { ImageInfo, ImagePort } from '../../../contract/ports.ts';
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

export interface ImageRoutesOptions {
  images: ImagePort;
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
        summary: 'Registry search: not available (no registry is configured)',
        querystring: z.object({ q: z.string().optional(), limit: z.string().optional().describe('1-100, default 25.'), no_trunc: z.string().optional() }),
        response: { 400: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async (request) => {
      const { q, limit } = request.query;
      if (q === undefined || q.trim() === '') throw new ValidationError("query parameter 'q' is required");
      if (limit !== undefined && (!/^\d{1,9}$/.test(limit) || Number(limit) < 1)) throw new ValidationError('invalid limit parameter');
      throw new AppError('UNAVAILABLE', NO_REGISTRY_SEARCH);
    },
  );

  app.post(
    '/images/pull',
    {
      schema: {
        tags: ['images'],
        summary: 'Registry pull: not available (no registry is configured)',
        body: z.object({ image: z.string().min(1), platform: z.string().optional(), quiet: z.boolean().optional() }),
        response: { 400: ErrorBody, 503: ErrorBody },
      },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async () => {
      throw new AppError('UNAVAILABLE', NO_REGISTRY_PULL);
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
