import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../contract/errors.ts';
import { buildApp } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';
import type { ImageInfo, ImagePort, PulledImage, RegistryHit, RegistryPort } from '../../../contract/ports.ts';
import { AppError } from '../../../contract/errors.ts';
import { NO_REGISTRY_PULL, NO_REGISTRY_SEARCH } from './images.ts';

const AGENT: ImageInfo = {
  id: 'c479027512a01da31754679441b934bf68fa7ee31a8b4a75c160f1f9eddc7b87',
  repository: 'localhost/stromboli/agent',
  tag: 'latest',
  sizeBytes: 2189991,
  created: '2026-11-29T16:58:36.000Z',
  rank: 1,
  compatible: true,
  hasClaudeCli: true,
  description: 'Stromboli agent image (Claude Code CLI)',
};
const ALPINE: ImageInfo = { id: 'a1', repository: 'localhost/alpine', tag: '3.20', sizeBytes: 10, rank: 4, compatible: false, hasClaudeCli: false };

class FakeImages implements ImagePort {
  failure: Error | undefined;
  async list() {
    if (this.failure !== undefined) throw this.failure;
    return [AGENT, ALPINE];
  }
  async get(ref: string) {
    if (ref.startsWith('-')) throw new ValidationError('invalid image name');
    return (await this.list()).find((i) => `${i.repository}:${i.tag}` === ref);
  }
}

const HIT: RegistryHit = { index: '127.0.0.1:5000', name: '127.0.0.1:5000/stromboli/agent', description: 'the agent', stars: 0, official: false, automated: false };

/** A registry that records what it was asked and answers with HIT, or fails as told. */
class FakeRegistry implements RegistryPort {
  readonly registry = '127.0.0.1:5000';
  readonly searches: { term: string; limit: number; noTrunc: boolean }[] = [];
  failure: Error | undefined;
  async search(query: { term: string; limit: number; noTrunc: boolean }): Promise<RegistryHit[]> {
    this.searches.push(query);
    if (this.failure !== undefined) throw this.failure;
    return [HIT];
  }
  async pull(request: { image: string; platform?: string }): Promise<PulledImage> {
    if (this.failure !== undefined) throw this.failure;
    if (request.image.startsWith('other.test/')) throw new ValidationError('image must come from the configured registry 127.0.0.1:5000');
    return { imageId: 'f'.repeat(64), image: `127.0.0.1:5000/${request.image}` };
  }
}

async function setup() {
  const images = new FakeImages();
  return { images, app: await buildApp({ runs: stubRunStore(), logs: stubLogReader(), images }) };
}

async function setupWithRegistry() {
  const registry = new FakeRegistry();
  return { registry, app: await buildApp({ runs: stubRunStore(), logs: stubLogReader(), images: new FakeImages(), registry }) };
}

const agentBody = {
  id: AGENT.id,
  repository: 'localhost/stromboli/agent',
  tag: 'latest',
  size: 2189991,
  created: '2026-11-29T16:58:36Z',
  compatibility_rank: 1,
  compatible: true,
  has_claude_cli: true,
  description: 'Stromboli agent image (Claude Code CLI)',
};

describe('GET /images', () => {
  it("lists local images in Stromboli's shape, created without fractional seconds", async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/images' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      images: [agentBody, { id: 'a1', repository: 'localhost/alpine', tag: '3.20', size: 10, created: '', compatibility_rank: 4, compatible: false, has_claude_cli: false }],
    });
  });

  it('answers 500 {"error":"failed to list images"} when podman fails', async () => {
    const { app, images } = await setup();
    images.failure = new Error('podman images failed');
    const res = await app.inject({ method: 'GET', url: '/images' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'failed to list images' });
  });
});

describe('GET /images/{name}', () => {
  it('answers the detail for a URL-encoded full name', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/images/${encodeURIComponent('localhost/stromboli/agent:latest')}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ...agentBody, rank_description: 'Stromboli agent image: the Claude Code CLI is installed' });
  });

  it('answers 404 {"error":"image not found"}', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/images/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'image not found' });
  });

  it('answers 400 for a malformed name', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/images/-x' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid image name' });
  });
});

describe('GET /images/search', () => {
  it('answers 400 when q is missing (checklist item 43)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/images/search' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: "query parameter 'q' is required" });
  });

  it.each([['0'], ['abc'], ['-1']])('answers 400 for limit=%s', async (limit) => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/images/search?q=node&limit=${limit}` });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid limit parameter' });
  });

  it('answers 503 with a clear message: no registry is configured', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/images/search?q=node&limit=5' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: NO_REGISTRY_SEARCH });
  });
});

describe('POST /images/pull', () => {
  it('answers 400 without an image', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: {} });
    expect(res.statusCode).toBe(400);
  });

  it('answers 503 with what to do instead (no registry)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: { image: 'registry.example/library/node:22' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: NO_REGISTRY_PULL });
  });
});

describe('GET /images/search with a configured registry', () => {
  it("answers Stromboli's results shape, asking for 25 results by default", async () => {
    const { app, registry } = await setupWithRegistry();
    const res = await app.inject({ method: 'GET', url: '/images/search?q=stromboli' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ results: [{ index: '127.0.0.1:5000', name: '127.0.0.1:5000/stromboli/agent', description: 'the agent', stars: 0, official: false, automated: false }] });
    expect(registry.searches).toEqual([{ term: 'stromboli', limit: 25, noTrunc: false }]);
  });

  it('reads a limit over 100 as 100 and no_trunc=true as full descriptions', async () => {
    const { app, registry } = await setupWithRegistry();
    await app.inject({ method: 'GET', url: '/images/search?q=a&limit=500&no_trunc=true' });
    expect(registry.searches).toEqual([{ term: 'a', limit: 100, noTrunc: true }]);
  });

  it('still answers 400 for a missing q or a bad limit', async () => {
    const { app } = await setupWithRegistry();
    expect((await app.inject({ method: 'GET', url: '/images/search' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/images/search?q=a&limit=0' })).json()).toEqual({ error: 'invalid limit parameter' });
  });

  it('answers 502 registry search failed when the registry cannot be searched', async () => {
    const { app, registry } = await setupWithRegistry();
    registry.failure = new AppError('UPSTREAM_FAILED', 'registry search failed');
    const res = await app.inject({ method: 'GET', url: '/images/search?q=a' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({ error: 'registry search failed' });
  });
});

describe('POST /images/pull with a configured registry', () => {
  it("answers Stromboli's success shape with the image id and full name", async () => {
    const { app } = await setupWithRegistry();
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: { image: 'stromboli/agent:latest', quiet: true } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, image_id: 'f'.repeat(64), image: '127.0.0.1:5000/stromboli/agent:latest' });
  });

  it('answers 400 naming the configured registry for an image of another registry', async () => {
    const { app } = await setupWithRegistry();
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: { image: 'other.test/x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'image must come from the configured registry 127.0.0.1:5000' });
  });

  it('answers 500 failed to pull image when podman cannot pull it, hiding its output', async () => {
    const { app, registry } = await setupWithRegistry();
    registry.failure = new AppError('COMMAND_FAILED', 'podman pull failed: manifest unknown');
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: { image: 'stromboli/missing' } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'failed to pull image' });
  });
});
