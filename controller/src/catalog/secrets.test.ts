import { describe, expect, it } from 'vitest';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanClient, SECRET_VALUE_ENV } from '../podman/client.ts';
import type { SecretSummary } from '../podman/parse.ts';
import { SecretCatalog, checkSecretName } from './secrets.ts';

const VALUE = 'ghp_secretvalue0123456789';

/** Podman secrets in memory, with podman's behaviour: create replaces, remove of a missing one is fine. */
class FakePodmanSecrets {
  readonly values = new Map<string, string>();
  creates = 0;
  async listSecrets(): Promise<SecretSummary[]> {
    return [...this.values.keys()].map((name, i) => ({ id: `id${i}`, name, driver: 'file' }));
  }
  async createSecret(name: string, value: string): Promise<void> {
    this.creates += 1;
    await Promise.resolve();
    this.values.set(name, value);
  }
  async removeSecret(name: string): Promise<void> {
    this.values.delete(name);
  }
}

describe('checkSecretName', () => {
  it.each([['github-token'], ['A_1'], ['x'.repeat(253)]])('accepts %s', (name) => {
    expect(() => checkSecretName(name)).not.toThrow();
  });
  it.each([[''], ['-rf'], ['a.b'], ['a/b'], ['with space'], ['x'.repeat(254)]])('refuses %j', (name) => {
    expect(() => checkSecretName(name)).toThrow(/invalid secret name/);
  });
});

describe('SecretCatalog', () => {
  it('lists names and ids sorted, never values', async () => {
    const podman = new FakePodmanSecrets();
    podman.values.set('b', VALUE);
    podman.values.set('a', VALUE);
    const list = await new SecretCatalog({ podman }).list();
    expect(list).toEqual([
      { id: 'id1', name: 'a' },
      { id: 'id0', name: 'b' },
    ]);
    expect(JSON.stringify(list)).not.toContain(VALUE);
  });

  it('creates a secret, and refuses to replace an existing one (ALREADY_EXISTS)', async () => {
    const podman = new FakePodmanSecrets();
    const catalog = new SecretCatalog({ podman });
    await catalog.create('token', VALUE);
    await expect(catalog.create('token', 'other-value')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(podman.values.get('token')).toBe(VALUE);
  });

  it('lets only one of two concurrent creates of a name through', async () => {
    const podman = new FakePodmanSecrets();
    const catalog = new SecretCatalog({ podman });
    const results = await Promise.allSettled([catalog.create('race', 'first-value'), catalog.create('race', 'second-value')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(podman.creates).toBe(1);
  });

  it('gets metadata or undefined, and removes (false when absent)', async () => {
    const podman = new FakePodmanSecrets();
    podman.values.set('token', VALUE);
    const catalog = new SecretCatalog({ podman });
    expect(await catalog.get('token')).toEqual({ id: 'id0', name: 'token' });
    expect(await catalog.get('nope')).toBeUndefined();
    expect(await catalog.remove('token')).toBe(true);
    expect(await catalog.remove('token')).toBe(false);
  });

  it('sends the value to podman through the environment of one command, never argv', async () => {
    const executor = new FakeExecutor()
      .onRun(['podman', 'secret', 'ls', '--format', '{{json .}}'], { stdout: '' })
      .onRun({ prefix: ['podman', 'secret', 'rm'] }, { exitCode: 1 })
      .onRun({ prefix: ['podman', 'secret', 'create'] }, {});
    await new SecretCatalog({ podman: new PodmanClient({ executor }) }).create('token', VALUE);
    const create = executor.calls.find((c) => c.argv[2] === 'create');
    expect(create?.argv).toEqual(['podman', 'secret', 'create', '--env', 'token', SECRET_VALUE_ENV]);
    expect(create?.options.env?.[SECRET_VALUE_ENV]).toBe(VALUE);
    for (const call of executor.calls) expect(call.argv.join(' ')).not.toContain(VALUE);
  });

  it('refuses a bad value before reaching podman (VALIDATION)', async () => {
    const executor = new FakeExecutor().onRun(['podman', 'secret', 'ls', '--format', '{{json .}}'], { stdout: '' });
    await expect(new SecretCatalog({ podman: new PodmanClient({ executor }) }).create('token', '')).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
