import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { HealthPort, ImagePort, SecretPort, SessionPort } from '../../../contract/ports.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';

const health: HealthPort = { check: async () => [], claudeConfigured: async () => true };
const sessions: SessionPort = { list: async () => [], remove: async () => false, history: async () => undefined };
const secrets: SecretPort = { list: async () => [], get: async () => undefined, create: async () => undefined, remove: async () => false };
const images: ImagePort = { list: async () => [], get: async () => undefined };

interface OpenApiDoc {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: { properties: Record<string, Record<string, unknown>> } }> } }>>;
  components: { securitySchemes: Record<string, unknown> };
}

async function doc(authEnabled: boolean): Promise<OpenApiDoc> {
  const app = await buildApp(
    { runs: stubRunStore(), logs: stubLogReader(), health, sessions, secrets, images },
    { version: '9.9.9', rateLimit: { max: 100 }, auth: { enabled: authEnabled, apiTokens: ['static-api-token-0123456789'], jwt: { secret: 'y'.repeat(40) } } },
  );
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  return res.json<OpenApiDoc>();
}

describe('the OpenAPI document', () => {
  it('is generated from the route schemas and lists every catalog and auth endpoint', async () => {
    const d = await doc(true);
    expect(d.openapi).toMatch(/^3\./);
    expect(d.info.version).toBe('9.9.9');
    const expected: Array<[string, string]> = [
      ['/health', 'get'],
      ['/claude/status', 'get'],
      ['/sessions', 'get'],
      ['/sessions/{id}', 'delete'],
      ['/sessions/{id}/messages', 'get'],
      ['/sessions/{id}/messages/{message_id}', 'get'],
      ['/secrets', 'get'],
      ['/secrets', 'post'],
      ['/secrets/{name}', 'get'],
      ['/secrets/{name}', 'delete'],
      ['/images', 'get'],
      ['/images/search', 'get'],
      ['/images/pull', 'post'],
      ['/images/{name}', 'get'],
      ['/auth/token', 'post'],
      ['/auth/refresh', 'post'],
      ['/auth/validate', 'get'],
      ['/auth/logout', 'post'],
    ];
    for (const [path, method] of expected) expect(d.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(d.paths['/openapi.json']).toBeUndefined();
    expect(Object.keys(d.paths).some((p) => p.startsWith('/docs'))).toBe(false);
    expect(d.paths['/metrics']).toBeUndefined();
  });

  it('marks protected routes with the bearer scheme and their 401/429 answers, public ones without', async () => {
    const d = await doc(true);
    expect(d.components.securitySchemes['bearerAuth']).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const secretsList = d.paths['/secrets']?.['get'];
    expect(secretsList?.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(secretsList?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '429']));
    expect(d.paths['/health']?.['get']?.security).toBeUndefined();
    expect(Object.keys(d.paths['/health']?.['get']?.responses ?? {})).toEqual(['200']);
    expect(d.paths['/auth/validate']?.['get']?.security).toBeUndefined();
    expect(d.paths['/auth/token']?.['post']?.security).toEqual([{ bearerAuth: [] }]);
  });

  it('documents the secret value as write-only', async () => {
    const d = await doc(true);
    const schema = d.paths['/secrets']?.['post']?.requestBody?.content['application/json']?.schema;
    expect(schema?.properties['value']).toEqual(expect.objectContaining({ type: 'string', writeOnly: true }));
  });

  it('has no security requirements when auth is off', async () => {
    const d = await doc(false);
    expect(d.paths['/secrets']?.['get']?.security).toBeUndefined();
  });

  it('is browsable at /docs', async () => {
    const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader() });
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBeLessThan(400);
    const page = res.statusCode === 200 ? res : await app.inject({ method: 'GET', url: res.headers.location ?? '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
  });
});
