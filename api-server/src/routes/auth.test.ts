import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { AppAuthOptions } from '../app.ts';
import { MemoryRevocationList } from '../auth/revocations.ts';
import type { RevocationList } from '../auth/revocations.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';

const SECRET = 'a-jwt-secret-of-more-than-32-characters-for-tests';
const API_TOKEN = 'static-api-token-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

/** A clock the test moves: tokens expire without waiting. */
function clock(start = Date.parse('2026-11-29T12:00:00Z')) {
  const c = { now: start, read: () => c.now };
  return c;
}

async function setup(overrides: Partial<AppAuthOptions> = {}, now = clock()) {
  const revocations = overrides.revocations ?? new MemoryRevocationList({ now: now.read });
  const app = await buildApp(
    { runs: stubRunStore(), logs: stubLogReader() },
    { auth: { enabled: true, jwt: { secret: SECRET, now: now.read }, apiTokens: [API_TOKEN], revocations, ...overrides } },
  );
  const issue = async (clientId = 'ci-bot'): Promise<Tokens> => {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { authorization: `Bearer ${API_TOKEN}` }, payload: { client_id: clientId } });
    expect(res.statusCode).toBe(200);
    return res.json<Tokens>();
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  return { app, issue, bearer, now };
}

describe('POST /auth/token', () => {
  it('issues an HS256 pair with sub, iat, exp, jti and is_refresh on the refresh token (checklist item 46)', async () => {
    const { issue, now } = await setup();
    const tokens = await issue('ci-bot');
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 86400 });
    expect(decodeProtectedHeader(tokens.access_token).alg).toBe('HS256');
    const access = decodeJwt(tokens.access_token);
    const refresh = decodeJwt(tokens.refresh_token);
    const iat = Math.floor(now.now / 1000);
    expect(access).toEqual({ sub: 'ci-bot', iat, exp: iat + 86400, jti: expect.stringMatching(UUID) });
    expect(refresh).toEqual({ sub: 'ci-bot', iat, exp: iat + 168 * 3600, jti: expect.stringMatching(UUID), is_refresh: true });
    expect(access.jti).not.toBe(refresh.jti);
  });

  it('needs a valid Bearer when auth is on', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/auth/token', payload: { client_id: 'x' } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'missing authorization header' });
  });

  it('issues tokens to anyone when auth is off but a secret is set (Stromboli)', async () => {
    const { app } = await setup({ enabled: false });
    const res = await app.inject({ method: 'POST', url: '/auth/token', payload: { client_id: 'x' } });
    expect(res.statusCode).toBe(200);
  });

  it('answers 400 {"error":"invalid request: …"} without client_id', async () => {
    const { app, bearer } = await setup();
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: bearer(API_TOKEN), payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/^invalid request: /);
  });

  it('answers 503 "JWT authentication not configured" without a secret (checklist item 50)', async () => {
    const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader() }, { auth: { enabled: true, apiTokens: [API_TOKEN] } });
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { authorization: `Bearer ${API_TOKEN}` }, payload: { client_id: 'x' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'JWT authentication not configured' });
    for (const [method, url] of [['POST', '/auth/refresh'], ['GET', '/auth/validate'], ['POST', '/auth/logout']] as const) {
      const other = await app.inject({ method, url, headers: { authorization: 'Bearer x' }, ...(method === 'POST' ? { payload: { refresh_token: 'x' } } : {}) });
      expect(other.statusCode, url).toBe(503);
      expect(other.json(), url).toEqual({ error: 'JWT authentication not configured' });
    }
  });
});

describe('the auth hook (checklist items 44-45)', () => {
  it.each([
    ['no header', {}, 'missing authorization header'],
    ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }, 'invalid authorization header format'],
    ['a bare token', { authorization: API_TOKEN }, 'invalid authorization header format'],
    ['Bearer without a token', { authorization: 'Bearer ' }, 'invalid authorization header format'],
    ['an unknown token', { authorization: 'Bearer not-a-token' }, 'invalid or expired token'],
  ])('answers 401 for %s', async (_what, headers, error) => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('accepts a static API token, with any case of "bearer"', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: { authorization: `bEaReR ${API_TOKEN}` } });
    expect(res.statusCode).toBe(200);
  });

  it('accepts an access token and refuses a refresh token as access', async () => {
    const { app, issue, bearer } = await setup();
    const tokens = await issue();
    expect((await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(tokens.access_token) })).statusCode).toBe(200);
    const refused = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(tokens.refresh_token) });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual({ error: 'invalid or expired token' });
  });

  it('refuses an expired access token', async () => {
    const { app, issue, bearer, now } = await setup();
    const tokens = await issue();
    now.now += 86401 * 1000;
    const res = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(tokens.access_token) });
    expect(res.json()).toEqual({ error: 'invalid or expired token' });
  });

  it('refuses a token signed with another secret or with alg none', async () => {
    const { app, bearer } = await setup();
    const other = await buildApp({ runs: stubRunStore(), logs: stubLogReader() }, { auth: { enabled: false, jwt: { secret: `${SECRET}-other` } } });
    const foreign = (await other.inject({ method: 'POST', url: '/auth/token', payload: { client_id: 'x' } })).json<Tokens>().access_token;
    expect((await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(foreign) })).statusCode).toBe(401);
    const payload = Buffer.from(JSON.stringify({ sub: 'x', iat: 1, exp: 4102444800, jti: 'j' })).toString('base64url');
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    expect((await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(unsigned) })).json()).toEqual({ error: 'invalid or expired token' });
  });

  it('fails closed with 503 "auth backend unavailable" when the revocation list cannot be read', async () => {
    const broken: RevocationList = {
      isRevoked: async () => {
        throw new Error('disk gone');
      },
      revoke: async () => undefined,
    };
    const { app, issue, bearer } = await setup({ revocations: broken });
    const tokens = await issue();
    const res = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'auth backend unavailable' });
  });

  it('lets everything through when auth is off', async () => {
    const { app } = await setup({ enabled: false });
    expect((await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns' })).statusCode).toBe(200);
  });
});

describe('POST /auth/refresh (checklist item 47)', () => {
  it('answers a new pair and revokes the refresh token it consumed', async () => {
    const { app, issue } = await setup();
    const tokens = await issue('ci-bot');
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(res.statusCode).toBe(200);
    const next = res.json<Tokens>();
    expect(next.token_type).toBe('bearer');
    expect(decodeJwt(next.access_token).sub).toBe('ci-bot');
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const again = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(again.statusCode).toBe(401);
    expect(again.json()).toEqual({ error: 'invalid or expired refresh token' });
  });

  it('refuses an access token as the refresh token', async () => {
    const { app, issue } = await setup();
    const tokens = await issue();
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.access_token } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'invalid or expired refresh token' });
  });

  it('answers 400 without refresh_token', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/^invalid request: /);
  });
});

describe('GET /auth/validate (checklist item 48)', () => {
  it('answers {"valid":true,"subject","expires_at"}', async () => {
    const { app, issue, bearer } = await setup();
    const tokens = await issue('ci-bot');
    const res = await app.inject({ method: 'GET', url: '/auth/validate', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ valid: true, subject: 'ci-bot', expires_at: decodeJwt(tokens.access_token).exp });
  });

  it.each([
    [{}, 'missing authorization header'],
    [{ authorization: 'Token abc' }, 'invalid authorization header format'],
    [{ authorization: 'Bearer garbage' }, 'invalid or expired token'],
  ])('answers 401 for %j', async (headers, error) => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/auth/validate', headers });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error });
  });

  it('is GET only: POST is 404', async () => {
    const { app } = await setup();
    expect((await app.inject({ method: 'POST', url: '/auth/validate' })).statusCode).toBe(404);
  });
});

describe('POST /auth/logout (checklist item 49)', () => {
  it('revokes the token: then 401 "token revoked" everywhere it was accepted', async () => {
    const { app, issue, bearer } = await setup();
    const tokens = await issue();
    const res = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, message: 'token invalidated' });
    const after = await app.inject({ method: 'GET', url: '/apis/stromboli.dev/v1alpha1/agentruns', headers: bearer(tokens.access_token) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toEqual({ error: 'token revoked' });
    expect((await app.inject({ method: 'GET', url: '/auth/validate', headers: bearer(tokens.access_token) })).json()).toEqual({ error: 'token revoked' });
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })).json()).toEqual({ error: 'token revoked' });
  });

  it('revokes whatever body comes with it: empty or malformed JSON with Content-Type: application/json is no body, not a 400', async () => {
    const { app, issue, bearer } = await setup();
    for (const payload of ['', '{not json', 'null']) {
      const tokens = await issue();
      const res = await app.inject({ method: 'POST', url: '/auth/logout', headers: { ...bearer(tokens.access_token), 'content-type': 'application/json' }, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/auth/validate', headers: bearer(tokens.access_token) })).json()).toEqual({ error: 'token revoked' });
    }
  });

  it('also revokes a refresh token of the same client given in the body', async () => {
    const { app, issue, bearer } = await setup();
    const tokens = await issue();
    await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token), payload: { refresh_token: tokens.refresh_token } });
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(res.statusCode).toBe(401);
  });

  it('answers 401 for a missing header and for an API token (not a JWT)', async () => {
    const { app, bearer } = await setup();
    expect((await app.inject({ method: 'POST', url: '/auth/logout' })).json()).toEqual({ error: 'missing authorization header' });
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(API_TOKEN) })).json()).toEqual({ error: 'invalid or expired token' });
  });

  it('answers 503 "auth backend unavailable" when the revocation cannot be recorded', async () => {
    const failing: RevocationList = {
      isRevoked: async () => false,
      revoke: async () => {
        throw new Error('read-only file system');
      },
    };
    const { app, issue, bearer } = await setup({ revocations: failing });
    const tokens = await issue();
    const res = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'auth backend unavailable' });
  });
});
