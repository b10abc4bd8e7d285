import { describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import { buildApp } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';
import type { SecretInfo, SecretPort } from '../../../contract/ports.ts';

const VALUE = 'sk-test-very-secret-value-0123456789';

/** In-memory secrets with the port's contract; keeps values to prove they never come back. */
class FakeSecrets implements SecretPort {
  readonly values = new Map<string, string>();
  failure: Error | undefined;
  async list(): Promise<SecretInfo[]> {
    if (this.failure !== undefined) throw this.failure;
    return [...this.values.keys()].map((name, i) => ({ id: `id${i}`, name, createdAt: '2 days ago' }));
  }
  async get(name: string) {
    check(name);
    return (await this.list()).find((s) => s.name === name);
  }
  async create(name: string, value: string) {
    check(name);
    if (this.failure !== undefined) throw this.failure;
    if (value === '') throw new ValidationError('secret value must be 1 to 511999 bytes without NUL');
    if (this.values.has(name)) throw new AppError('ALREADY_EXISTS', 'secret already exists');
    this.values.set(name, value);
  }
  async remove(name: string) {
    check(name);
    return this.values.delete(name);
  }
}

function check(name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(name)) throw new ValidationError('invalid secret name: use 1 to 253 letters, digits, "_" or "-", not starting with "-"');
}

async function setup() {
  const secrets = new FakeSecrets();
  secrets.values.set('github-token', VALUE);
  const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader(), secrets });
  return { app, secrets };
}

describe('GET /secrets', () => {
  it('lists {id, name, created_at} and never a value (checklist item 41)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/secrets' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ secrets: [{ id: 'id0', name: 'github-token', created_at: '2 days ago' }] });
    expect(res.body).not.toContain(VALUE);
  });

  it('lists the names alone for a client that asks for the 0.3/0.4 shapes (X-Stromboli-Api-Version)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/secrets', headers: { 'x-stromboli-api-version': '0.4' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ secrets: ['github-token'] });
    expect(res.body).not.toContain(VALUE);
  });

  it('answers 500 {"secrets":null,"error":"failed to list secrets"} when podman fails', async () => {
    const { app, secrets } = await setup();
    secrets.failure = new Error('podman secret ls failed: some internal detail');
    const res = await app.inject({ method: 'GET', url: '/secrets' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ secrets: null, error: 'failed to list secrets' });
  });

  it('answers 503 with the reason when podman cannot be run', async () => {
    const { app, secrets } = await setup();
    secrets.failure = new AppError('UNAVAILABLE', 'podman is not installed or cannot be executed');
    const res = await app.inject({ method: 'GET', url: '/secrets' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ secrets: null, error: 'podman is not installed or cannot be executed' });
  });
});

describe('POST /secrets', () => {
  it('creates and answers 201 {"success":true,"name"} (checklist item 42)', async () => {
    const { app, secrets } = await setup();
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name: 'gitlab_token', value: VALUE } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ success: true, name: 'gitlab_token' });
    expect(secrets.values.get('gitlab_token')).toBe(VALUE);
    expect(res.body).not.toContain(VALUE);
  });

  it('answers 409 with the name when the secret exists, and keeps the old value', async () => {
    const { app, secrets } = await setup();
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name: 'github-token', value: 'another-value-123' } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ success: false, name: 'github-token', error: 'secret already exists' });
    expect(secrets.values.get('github-token')).toBe(VALUE);
  });

  it.each([
    ['a missing value', { name: 'x' }],
    ['a missing name', { value: VALUE }],
    ['a value of the wrong type', { name: 'x', value: 42 }],
  ])('answers 400 {"success":false,"error"} for %s', async (_what, payload) => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/secrets', payload });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ success: boolean; error: string }>();
    expect(body.success).toBe(false);
    expect(body.error).toMatch(/^Invalid request: /);
    expect(res.body).not.toContain(VALUE);
  });

  it.each([['bad name!'], ['-flag'], ['']])('answers 400 for the name %j (Stromboli: 500)', async (name) => {
    const { app, secrets } = await setup();
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name, value: VALUE } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ success: boolean }>().success).toBe(false);
    expect(secrets.values.size).toBe(1);
  });

  it('answers 400 for an empty value', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name: 'empty', value: '' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ success: false, error: 'secret value must be 1 to 511999 bytes without NUL' });
  });

  it('answers 500 {"success":false,"error":"failed to create secret"} when podman fails', async () => {
    const { app, secrets } = await setup();
    secrets.failure = new Error('podman secret create failed');
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name: 'new', value: VALUE } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ success: false, error: 'failed to create secret' });
  });

  it('refuses a body over the limit with 413', async () => {
    const secrets = new FakeSecrets();
    const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader(), secrets }, { bodyLimit: 1024 });
    const res = await app.inject({ method: 'POST', url: '/secrets', payload: { name: 'big', value: 'x'.repeat(2048) } });
    expect(res.statusCode).toBe(413);
    expect(secrets.values.size).toBe(0);
  });
});

describe('GET /secrets/{name}', () => {
  it("answers the secret's metadata", async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/secrets/github-token' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'id0', name: 'github-token', created_at: '2 days ago' });
  });

  it('answers 404 {"error":"secret not found"}', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/secrets/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'secret not found' });
  });

  it('answers 400 for a malformed name', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/secrets/-rf' });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/invalid secret name/);
  });

  it('answers 500 {"error":"internal server error"} when podman fails', async () => {
    const { app, secrets } = await setup();
    secrets.failure = new Error('boom');
    const res = await app.inject({ method: 'GET', url: '/secrets/github-token' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal server error' });
  });
});

describe('DELETE /secrets/{name}', () => {
  it('deletes and answers {"success":true,"name"}', async () => {
    const { app, secrets } = await setup();
    const res = await app.inject({ method: 'DELETE', url: '/secrets/github-token' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, name: 'github-token' });
    expect(secrets.values.size).toBe(0);
  });

  it('answers 404 {"success":false,"name","error":"secret not found"}', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'DELETE', url: '/secrets/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ success: false, name: 'nope', error: 'secret not found' });
  });

  it('answers 400 for a malformed name', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'DELETE', url: '/secrets/a.b' });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ success: boolean }>().success).toBe(false);
  });
});
