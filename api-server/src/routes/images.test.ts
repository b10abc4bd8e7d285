import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../contract/errors.ts';
import { buildApp } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';
import type { ImageInfo, ImagePort } from '../../../contract/ports.ts';
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

async function setup() {
  const images = new FakeImages();
  return { images, app: await buildApp({ runs: stubRunStore(), logs: stubLogReader(), images }) };
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
    const res = await app.inject({ method: 'POST', url: '/images/pull', payload: { image: 'docker.io/library/node:22' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: NO_REGISTRY_PULL });
  });
});
