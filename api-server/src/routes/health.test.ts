import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';
import type { HealthComponent, HealthPort } from '../../../contract/ports.ts';
import { compact } from '../../../contract/compact.ts';

function health(components: HealthComponent[]): HealthPort & { checks: number } {
  const port = {
    checks: 0,
    async check() {
      port.checks += 1;
      return components;
    },
    async claudeConfigured() {
      return components.some((c) => c.name === 'claude-credentials-secret' && c.status === 'ok');
    },
  };
  return port;
}

const okComponents: HealthComponent[] = [
  { name: 'podman', status: 'ok' },
  { name: 'claude-credentials-secret', status: 'ok' },
];
const failing: HealthComponent[] = [
  { name: 'podman', status: 'ok' },
  { name: 'claude-credentials-secret', status: 'error', error: "podman secret 'claude-key' not found: create it with 'podman secret create'" },
];

async function app(port?: HealthPort, authEnabled = false) {
  return buildApp(
    { runs: stubRunStore(), logs: stubLogReader(), ...compact({ health: port }) },
    { version: '1.2.3', auth: { enabled: authEnabled, apiTokens: ['a-static-api-token-123'] }, rateLimit: { max: 1 } },
  );
}

describe('GET /health', () => {
  it('answers 200 ok with every component when all are healthy', async () => {
    const res = await (await app(health(okComponents))).inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', name: 'stromboli', version: '1.2.3', api_version: '0.5.7', components: okComponents });
  });

  it('answers 200 degraded, still 200, when a component fails', async () => {
    const res = await (await app(health(failing))).inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'degraded', name: 'stromboli', version: '1.2.3', api_version: '0.5.7', components: failing });
  });

  it('answers ok without components when no checker is configured (Stromboli fallback)', async () => {
    const res = await (await app()).inject({ method: 'GET', url: '/health' });
    expect(res.json()).toEqual({ status: 'ok', name: 'stromboli', version: '1.2.3', api_version: '0.5.7' });
  });

  it('needs no token and is never rate-limited, even with auth on and a limit of one request', async () => {
    const server = await app(health(okComponents), true);
    for (let i = 0; i < 5; i++) {
      const res = await server.inject({ method: 'GET', url: '/health' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
    }
  });
});

describe('GET /claude/status', () => {
  it('says configured when the credentials component is ok', async () => {
    const res = await (await app(health(okComponents))).inject({ method: 'GET', url: '/claude/status' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ configured: true, message: 'Claude is configured' });
  });

  it('says not configured, with 200, when credentials are missing', async () => {
    const res = await (await app(health(failing))).inject({ method: 'GET', url: '/claude/status' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ configured: false });
    expect(res.json<{ message: string }>().message).toMatch(/not configured/);
  });

  it('is protected: 401 without a token when auth is on, 200 with an API token', async () => {
    const server = await buildApp({ runs: stubRunStore(), logs: stubLogReader(), health: health(okComponents) }, { auth: { enabled: true, apiTokens: ['a-static-api-token-123'] } });
    const denied = await server.inject({ method: 'GET', url: '/claude/status' });
    expect(denied.statusCode).toBe(401);
    expect(denied.json()).toEqual({ error: 'missing authorization header' });
    const allowed = await server.inject({ method: 'GET', url: '/claude/status', headers: { authorization: 'Bearer a-static-api-token-123' } });
    expect(allowed.statusCode).toBe(200);
  });
});

describe('GET /metrics', () => {
  it('is not served on the API port (checklist item 2)', async () => {
    const res = await (await app(health(okComponents))).inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toBe('404 page not found');
  });
});
