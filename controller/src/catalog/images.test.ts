import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanClient } from '../podman/client.ts';
import type { ImageSummary } from '../podman/parse.ts';
import { ImageCatalog, checkImageRef, rankImage, splitImageName } from './images.ts';

const AGENT = 'localhost/stromboli/agent:latest';

function podmanWith(images: ImageSummary[]) {
  return { listImages: async () => images };
}

const IMAGES: ImageSummary[] = [
  { id: 'aaaaaaaaaaaa1111', names: ['registry.example/library/alpine:3.20'], createdAt: '2026-01-01T00:00:00.000Z', sizeBytes: 7 },
  { id: 'bbbbbbbbbbbb2222', names: [AGENT, 'localhost/stromboli/agent:v1'], createdAt: '2026-02-01T00:00:00.000Z', sizeBytes: 9 },
  { id: 'cccccccccccc3333', names: ['localhost/debian:bookworm'], createdAt: undefined, sizeBytes: 5 },
  { id: 'dddddddddddd4444', names: [], createdAt: undefined, sizeBytes: 1 },
  { id: 'eeeeeeeeeeee5555', names: ['localhost/stromboli/fake-claude:latest'], createdAt: undefined, sizeBytes: 2 },
];

describe('splitImageName', () => {
  it.each([
    ['localhost/stromboli/agent:latest', 'localhost/stromboli/agent', 'latest'],
    ['localhost:5000/x', 'localhost:5000/x', 'latest'],
    ['localhost:5000/x:1', 'localhost:5000/x', '1'],
  ])('%s', (name, repository, tag) => {
    expect(splitImageName(name)).toEqual({ repository, tag });
  });
});

describe('rankImage', () => {
  it.each([
    ['localhost/stromboli/agent', 'v2', 1],
    ['localhost/my/agent', 'x', 3],
    ['localhost/stromboli/fake-claude', 'latest', 2],
    ['registry.example/library/alpine', '3', 4],
    ['localhost/stromboli/test-busybox', 'latest', 4],
    ['gcr.io/distroless/base', 'latest', 4],
    ['registry.example/library/node', '22', 3],
  ])('%s:%s → %d', (repository, tag, rank) => {
    expect(rankImage(repository, tag, AGENT).rank).toBe(rank);
  });

  it('ranks the configured agent image 1 whatever its name', () => {
    expect(rankImage('localhost/acme/claude', 'v3', 'localhost/acme/claude:v3')).toMatchObject({ rank: 1, hasClaudeCli: true });
  });
});

describe('checkImageRef', () => {
  it.each([['-rm'], [''], ['a b'], ['x'.repeat(513)], ['a;b']])('refuses %j', (ref) => {
    expect(() => checkImageRef(ref)).toThrow(/invalid image name/);
  });
});

describe('ImageCatalog', () => {
  it('lists one row per name, best rank first, dangling images as <none>', async () => {
    const list = await new ImageCatalog({ podman: podmanWith(IMAGES), agentImage: AGENT }).list();
    expect(list.map((i) => [`${i.repository}:${i.tag}`, i.rank])).toEqual([
      ['localhost/stromboli/agent:latest', 1],
      ['localhost/stromboli/agent:v1', 1],
      ['localhost/stromboli/fake-claude:latest', 2],
      ['<none>:<none>', 3],
      ['localhost/debian:bookworm', 3],
      ['registry.example/library/alpine:3.20', 4],
    ]);
    expect(list[0]).toEqual({
      id: 'bbbbbbbbbbbb2222',
      repository: 'localhost/stromboli/agent',
      tag: 'latest',
      sizeBytes: 9,
      created: '2026-02-01T00:00:00.000Z',
      rank: 1,
      compatible: true,
      hasClaudeCli: true,
      description: 'Stromboli agent image (Claude Code CLI)',
    });
  });

  it('lists a multi-tagged image once per name, though podman reports it once per tag', async () => {
    const tagged = IMAGES.filter((image) => image.names.length > 1);
    expect(tagged.length).toBeGreaterThan(0);
    const list = await new ImageCatalog({ podman: podmanWith([...IMAGES, ...tagged]), agentImage: AGENT }).list();
    const names = list.map((i) => `${i.repository}:${i.tag}`);
    expect(names).toEqual([...new Set(names)]);
    expect(names).toContain('localhost/stromboli/agent:v1');
  });

  it.each([
    [AGENT, 'localhost/stromboli/agent:latest'],
    ['stromboli/agent', 'localhost/stromboli/agent:latest'],
    ['agent:v1', 'localhost/stromboli/agent:v1'],
    ['alpine:3.20', 'registry.example/library/alpine:3.20'],
    ['cccccccccccc', 'localhost/debian:bookworm'],
    ['dddddddddddd4444', '<none>:<none>'],
  ])('finds %s', async (ref, name) => {
    const found = await new ImageCatalog({ podman: podmanWith(IMAGES), agentImage: AGENT }).get(ref);
    expect(found === undefined ? undefined : `${found.repository}:${found.tag}`).toBe(name);
  });

  it.each([['alpine'], ['gent:latest'], ['cccc'], ['nothing']])('finds nothing for %s', async (ref) => {
    expect(await new ImageCatalog({ podman: podmanWith(IMAGES), agentImage: AGENT }).get(ref)).toBeUndefined();
  });

  it("reads podman's real JSON through PodmanClient", async () => {
    const stdout = await readFile(new URL('../podman/fixtures/images.json', import.meta.url), 'utf8');
    const executor = new FakeExecutor().onRun(['podman', 'images', '--format', 'json'], { stdout });
    const list = await new ImageCatalog({ podman: new PodmanClient({ executor }) }).list();
    expect(list).toEqual([expect.objectContaining({ repository: 'localhost/stromboli/test-busybox', tag: 'latest', sizeBytes: 1986012, rank: 4, created: '2026-11-29T16:41:56.000Z' })]);
  });
});
