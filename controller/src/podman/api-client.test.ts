import { describe, expect, it } from 'vitest';
import { TransientError } from '../../../contract/errors.ts';
import { PodmanApiClient, PodmanApiError } from './api-client.ts';
import { FakeApiTransport } from './fake-api-transport.ts';

const IMAGE = 'localhost/stromboli/fake-claude:latest';

function setup(): { fake: FakeApiTransport; client: PodmanApiClient } {
  const fake = new FakeApiTransport();
  fake.images.add(IMAGE);
  return { fake, client: new PodmanApiClient({ transport: fake }) };
}
const body = (name: string) => ({ name, image: IMAGE, command: [], labels: { 'stromboli.dev/owner': 'o' }, env: {}, secret_env: {}, secrets: [], user: '1000:1000', cap_drop: ['ALL'], no_new_privileges: true as const, resource_limits: { pids: { limit: 256 } }, mounts: [] });

describe('PodmanApiClient', () => {
  it('creates, starts, inspects, lists by label, stops and removes, deciding by status only', async () => {
    const { fake, client } = setup();
    expect(await client.create(body('a'))).toMatch(/^[0-9a-f]{64}$/);
    await client.start('a');
    await client.start('a'); // 304: already running is fine
    expect(await client.inspect('a')).toMatchObject({ name: 'a', status: 'running', running: true, labels: { 'stromboli.dev/owner': 'o' } });
    expect((await client.listByLabel({ 'stromboli.dev/owner': 'o' })).map((c) => [c.name, c.running])).toEqual([['a', true]]);
    expect(await client.listByLabel({ 'stromboli.dev/owner': 'other' })).toEqual([]);
    await client.stop('a', 10);
    expect(await client.inspect('a')).toMatchObject({ status: 'exited', exitCode: 143 });
    await client.remove('a', { force: true });
    expect(await client.inspect('a')).toBeUndefined();
    expect(await client.containerExists('a')).toBe(false);
    // Missing containers are fine for stop and remove.
    await client.stop('a', 0);
    await client.remove('a');
    expect(fake.requests.find((r) => r.path.startsWith('/containers/a/stop'))?.timeoutMs).toBeGreaterThan(10_000);
  });

  it('answers the exists questions from 204/404 and 200/404', async () => {
    const { fake, client } = setup();
    fake.secrets.add('gh-token');
    expect(await client.imageExists(IMAGE)).toBe(true);
    expect(await client.imageExists('localhost/nope:latest')).toBe(false);
    expect(await client.secretExists('gh-token')).toBe(true);
    expect(await client.secretExists('nope')).toBe(false);
    expect(await client.ping()).toBe(true);
  });

  it('throws PodmanApiError with the status for an unexpected answer (a missing image, a name in use), never deciding by the text', async () => {
    const { client } = setup();
    const missing = await client.create({ ...body('b'), image: 'localhost/nope:latest' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PodmanApiError);
    expect(missing).toMatchObject({ status: 500, code: 'COMMAND_FAILED' });
    await client.create(body('b'));
    await expect(client.create(body('b'))).rejects.toMatchObject({ status: 500 });
    await client.start('b');
    await expect(client.remove('b')).rejects.toMatchObject({ status: 409 });
  });

  it('turns an unreachable service into a TransientError (the loop retries), and ping into false', async () => {
    const { fake, client } = setup();
    fake.down = true;
    await expect(client.inspect('x')).rejects.toBeInstanceOf(TransientError);
    expect(await client.ping()).toBe(false);
  });

  it('refuses names podman would misread, before any request', async () => {
    const { fake, client } = setup();
    await expect(client.inspect('-rf')).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(client.listByLabel({})).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(fake.requests).toEqual([]);
  });
});
