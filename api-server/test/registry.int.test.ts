// GET /images/search and POST /images/pull against a real registry on loopback (stromboli.md
// §1.9): the CNCF distribution registry (test-infra/registry/setup.sh) in a temp dir, the locally
// built fake Claude image pushed into it, a real `stromboli serve` with --image-registry, and a
// run of the image pulled under the registry's name. Cleans up the pulled name, the registry
// process and its storage, the server and its dirs.
// Run: npx vitest run --project podman api-server/test/registry.int.test.ts
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../../controller/test/helpers/cleanup.ts';
import { startTestServer } from '../../controller/test/helpers/embedded-server.ts';
import { ensureFakeImage, podman, runCommand } from '../../controller/test/helpers/podman.ts';
import { startRegistry } from '../../controller/test/helpers/registry.ts';
import { FAKE_IMAGE } from '../../controller/test/helpers/repo.ts';
import { agentRun, storeReader, waitForPhase, writeManifest } from '../../controller/test/helpers/runs.ts';
import { createTempDirs } from '../../controller/test/helpers/temp-dirs.ts';

const cleanup = new Cleanup();
const REPOSITORY = 'stromboli/fake-claude';

beforeAll(async () => {
  await ensureFakeImage();
}, 300_000);

afterEach(async () => {
  await cleanup.run();
});

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(new URL(path, base), {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function imageExists(ref: string): Promise<boolean> {
  const result = await runCommand('podman', ['image', 'exists', ref]);
  if (result.exitCode > 1) throw new Error(`podman image exists ${ref} exited ${result.exitCode}: ${result.stderr}`);
  return result.exitCode === 0;
}

describe('images against a registry on loopback', () => {
  it('searches the pushed image, pulls it under the registry name, runs it to Succeeded, and answers 502 once the registry is gone', async () => {
    const registry = await startRegistry(cleanup);
    await podman(['push', '--quiet', '--tls-verify=false', FAKE_IMAGE, `${registry.host}/${REPOSITORY}:latest`]);
    const pulledName = `${registry.host}/${REPOSITORY}:latest`;
    expect(await imageExists(pulledName)).toBe(false); // push tags nothing locally: the pull below creates this name
    cleanup.add(`untag ${pulledName}`, async () => {
      // Only the name the pull added: the image itself keeps its localhost/ name.
      if (await imageExists(pulledName)) await podman(['rmi', pulledName]);
    });

    const dirs = await createTempDirs(cleanup, 'registry');
    const ts = await startTestServer(cleanup, dirs, { imageRegistry: registry.host, imageRegistryInsecure: 'on' });

    const found = await call(ts.url, 'GET', '/images/search?q=fake-claude&limit=10');
    expect(found.status).toBe(200);
    expect(found.json).toEqual({ results: [{ index: registry.host, name: `${registry.host}/${REPOSITORY}`, description: '', stars: 0, official: false, automated: false }] });
    expect(await call(ts.url, 'GET', '/images/search?q=nothing-by-this-name')).toEqual({ status: 200, json: { results: [] } });
    expect((await call(ts.url, 'GET', '/images/search?q=x&limit=0')).json).toEqual({ error: 'invalid limit parameter' });

    const pulled = await call(ts.url, 'POST', '/images/pull', { image: `${REPOSITORY}:latest`, quiet: true });
    expect(pulled).toEqual({ status: 200, json: { success: true, image_id: expect.stringMatching(/^[0-9a-f]{64}$/), image: pulledName } });
    expect(await imageExists(pulledName)).toBe(true);
    const local = (await call(ts.url, 'GET', '/images')).json['images'] as Array<Record<string, unknown>>;
    expect(local.map((i) => `${String(i['repository'])}:${String(i['tag'])}`)).toContain(pulledName);

    expect(await call(ts.url, 'POST', '/images/pull', { image: 'other.test/stromboli/agent' })).toEqual({
      status: 400,
      json: { error: `image must come from the configured registry ${registry.host}` },
    });
    expect(await call(ts.url, 'POST', '/images/pull', { image: 'stromboli/absent:1' })).toEqual({ status: 500, json: { error: 'failed to pull image' } });

    await writeManifest(dirs.runsDir, 'pulled.yaml', agentRun('pulled', { prompt: 'Hello from the pulled image.', podman: { image: pulledName } }));
    const run = await waitForPhase(storeReader(ts.get, 'pulled'), 'Succeeded', 'Succeeded');
    expect(run.spec).toMatchObject({ podman: { image: pulledName } });

    await registry.stop();
    expect(await call(ts.url, 'GET', '/images/search?q=fake')).toEqual({ status: 502, json: { error: 'registry search failed' } });
  }, 240_000);
});
