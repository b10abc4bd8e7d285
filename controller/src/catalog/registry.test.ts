import { describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import { CommandError } from '../exec/command-error.ts';
import { PodmanUnavailableError } from '../podman/client.ts';
import type { PullOptions, SearchOptions } from '../podman/client.ts';
import type { SearchHit } from '../podman/parse.ts';
import { RegistryCatalog, qualifyImageRef } from './registry.ts';

const REGISTRY = '127.0.0.1:5000';
const ID = '49039e67d850d082f9b766ba7de4fc70e25c20c0c0c51b3d61dbd2f43df97f5a';

/** A registry of a few repositories behind the two podman calls the catalog makes. */
class FakeRegistryPodman {
  repositories = ['stromboli/fake-claude', 'stromboli/agent', 'tools/node'];
  reachable = true;
  readonly searches: { term: string; options: SearchOptions }[] = [];
  readonly pulls: { ref: string; options: PullOptions }[] = [];

  async searchImages(term: string, options: SearchOptions): Promise<SearchHit[]> {
    this.searches.push({ term, options });
    if (!this.reachable) throw new CommandError({ argv: ['podman', 'search', term], result: { exitCode: 125, stdout: '', stderr: 'connection refused', timedOut: false, aborted: false }, message: 'podman search failed' });
    const [host = '', ...rest] = term.split('/');
    const needle = rest.join('/');
    return this.repositories
      .filter((repo) => repo.includes(needle))
      .slice(0, options.limit)
      .map((repo) => ({ index: host, name: `${host}/${repo}`, description: '', stars: 0, official: false, automated: false }));
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<string> {
    this.pulls.push({ ref, options });
    const repo = ref.slice(REGISTRY.length + 1).replace(/:[^/]*$/, '');
    if (!this.repositories.includes(repo)) throw new CommandError({ argv: ['podman', 'pull', ref], result: { exitCode: 125, stdout: '', stderr: 'manifest unknown', timedOut: false, aborted: false }, message: 'podman pull failed' });
    return ID;
  }
}

function setup(insecure = true) {
  const podman = new FakeRegistryPodman();
  return { podman, catalog: new RegistryCatalog({ podman, registry: REGISTRY, insecure }) };
}

describe('qualifyImageRef', () => {
  it.each([
    ['stromboli/agent', `${REGISTRY}/stromboli/agent`],
    ['node:22', `${REGISTRY}/node:22`],
    [`${REGISTRY}/stromboli/agent:latest`, `${REGISTRY}/stromboli/agent:latest`],
  ])('takes %s to be %s', (ref, qualified) => {
    expect(qualifyImageRef(ref, REGISTRY)).toBe(qualified);
  });

  it.each([['other.test/stromboli/agent'], ['localhost/stromboli/agent'], ['127.0.0.1:5001/x'], [`${REGISTRY}/`], ['-x'], ['a b']])('refuses %s', (ref) => {
    expect(() => qualifyImageRef(ref, REGISTRY)).toThrow(ValidationError);
  });
});

describe('RegistryCatalog', () => {
  it('refuses a registry setting that is not HOST[:PORT]', () => {
    expect(() => new RegistryCatalog({ podman: new FakeRegistryPodman(), registry: 'http://r.test' })).toThrow(RangeError);
  });

  it('searches the configured registry only, with the limit and truncation asked for', async () => {
    const { catalog } = setup();
    const hits = await catalog.search({ term: 'stromboli', limit: 1, noTrunc: true });
    expect(hits).toEqual([{ index: REGISTRY, name: `${REGISTRY}/stromboli/fake-claude`, description: '', stars: 0, official: false, automated: false }]);
  });

  it('drops a leading HOST:PORT/ of its own registry from the term', async () => {
    const { catalog, podman } = setup(false);
    expect(await catalog.search({ term: `${REGISTRY}/node`, limit: 25, noTrunc: false })).toHaveLength(1);
    expect(podman.searches[0]).toEqual({ term: `${REGISTRY}/node`, options: { limit: 25, noTrunc: false, tlsVerify: true } });
  });

  it('fails a search of an unreachable registry with UPSTREAM_FAILED, keeping the cause', async () => {
    const { catalog, podman } = setup();
    podman.reachable = false;
    const err = await catalog.search({ term: 'x', limit: 25, noTrunc: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', message: 'registry search failed' });
    expect((err as Error).cause).toBeInstanceOf(CommandError);
  });

  it('passes on that podman cannot run at all (503), not a registry failure', async () => {
    const { catalog, podman } = setup();
    const unavailable = new PodmanUnavailableError('podman', new CommandError({ argv: ['podman'], result: { exitCode: 127, stdout: '', stderr: '', timedOut: false, aborted: false } }));
    podman.searchImages = () => Promise.reject(unavailable);
    await expect(catalog.search({ term: 'x', limit: 1, noTrunc: false })).rejects.toBe(unavailable);
  });

  it('pulls an image of its registry without TLS verification when insecure, and answers its id and full name', async () => {
    const { catalog, podman } = setup();
    expect(await catalog.pull({ image: 'stromboli/fake-claude:latest', platform: 'linux/amd64' })).toEqual({ imageId: ID, image: `${REGISTRY}/stromboli/fake-claude:latest` });
    expect(podman.pulls[0]?.options).toEqual({ tlsVerify: false, platform: 'linux/amd64' });
  });

  it('refuses to pull from another registry or with a malformed platform, before calling podman', async () => {
    const { catalog, podman } = setup();
    await expect(catalog.pull({ image: 'other.test/stromboli/agent' })).rejects.toThrow('image must come from the configured registry 127.0.0.1:5000');
    await expect(catalog.pull({ image: 'stromboli/agent', platform: '--all' })).rejects.toBeInstanceOf(ValidationError);
    expect(podman.pulls).toEqual([]);
  });

  it('passes a failed pull on as the command error', async () => {
    const { catalog } = setup();
    await expect(catalog.pull({ image: 'missing/image' })).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
  });
});
