import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { AppOptions } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';

const TOKEN = 'static-api-token-0123456789';
const LIST = '/apis/stromboli.dev/v1alpha1/agentruns';

async function app(options: AppOptions) {
  return buildApp({ runs: stubRunStore(), logs: stubLogReader() }, options);
}

describe('rate limiting (checklist item 51)', () => {
  it('sets X-RateLimit-Limit/Remaining/Reset on allowed answers, then 429 {"error":"rate limit exceeded"}', async () => {
    const server = await app({ rateLimit: { max: 2, timeWindowMs: 60_000 }, auth: { enabled: true, apiTokens: [TOKEN] } });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const first = await server.inject({ method: 'GET', url: LIST, headers });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    expect((await server.inject({ method: 'GET', url: LIST, headers })).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await server.inject({ method: 'GET', url: LIST, headers });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: 'rate limit exceeded' });
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    // Unlike Stromboli, the client is told when to come back.
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('limits before authenticating: an unauthenticated flood gets 429, not 401', async () => {
    const server = await app({ rateLimit: { max: 1 }, auth: { enabled: true, apiTokens: [TOKEN] } });
    expect((await server.inject({ method: 'GET', url: LIST })).statusCode).toBe(401);
    const second = await server.inject({ method: 'GET', url: LIST });
    expect(second.statusCode).toBe(429);
    expect(second.json()).toEqual({ error: 'rate limit exceeded' });
  });

  it('limits the /auth endpoints too, but never /health, /openapi.json or /docs', async () => {
    const server = await app({ rateLimit: { max: 1 }, auth: { enabled: true, apiTokens: [TOKEN], jwt: { secret: 'x'.repeat(40) } } });
    await server.inject({ method: 'GET', url: '/auth/validate' });
    expect((await server.inject({ method: 'GET', url: '/auth/validate' })).statusCode).toBe(429);
    for (const url of ['/health', '/openapi.json', '/docs']) {
      for (let i = 0; i < 3; i++) {
        const res = await server.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBeLessThan(400);
        expect(res.headers['x-ratelimit-limit'], url).toBeUndefined();
      }
    }
  });

  it('counts per client IP, and believes X-Forwarded-For only from a trusted proxy', async () => {
    const open = await app({ rateLimit: { max: 1 } });
    expect((await open.inject({ method: 'GET', url: LIST, remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    expect((await open.inject({ method: 'GET', url: LIST, remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
    // An untrusted peer cannot escape its bucket by claiming another address.
    expect((await open.inject({ method: 'GET', url: LIST, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': '192.0.2.9' } })).statusCode).toBe(429);

    const proxied = await app({ rateLimit: { max: 1 }, trustedProxies: ['10.0.0.0/8'] });
    const via = (client: string) => proxied.inject({ method: 'GET', url: LIST, remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': client } });
    expect((await via('192.0.2.1')).statusCode).toBe(200);
    expect((await via('192.0.2.2')).statusCode).toBe(200);
    expect((await via('192.0.2.1')).statusCode).toBe(429);
  });

  it('is off unless configured', async () => {
    const server = await app({});
    const res = await server.inject({ method: 'GET', url: LIST });
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  });
});
