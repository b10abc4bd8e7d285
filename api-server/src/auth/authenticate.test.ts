import { describe, expect, it } from 'vitest';
import { ApiTokens, authenticate, bearerToken } from './authenticate.ts';
import { JwtService } from './jwt.ts';
import { MemoryRevocationList } from './revocations.ts';

const TOKEN = 'static-api-token-0123456789';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic abc', undefined],
    ['abc', undefined],
    [' Bearer abc', undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('ApiTokens', () => {
  it('matches exactly one of its tokens, nothing else', () => {
    const tokens = new ApiTokens([TOKEN, 'second-token-0123456789']);
    expect(tokens.size).toBe(2);
    expect(tokens.matches(TOKEN)).toBe(true);
    expect(tokens.matches('second-token-0123456789')).toBe(true);
    expect(tokens.matches(`${TOKEN}x`)).toBe(false);
    expect(tokens.matches('')).toBe(false);
    expect(new ApiTokens([]).matches('')).toBe(false);
  });
});

describe('authenticate', () => {
  const jwt = new JwtService({ secret: 'z'.repeat(40) });

  it('accepts an API token even without a JWT secret', async () => {
    const result = await authenticate(`Bearer ${TOKEN}`, { apiTokens: new ApiTokens([TOKEN]), revocations: new MemoryRevocationList() });
    expect(result).toEqual({ ok: true, principal: { kind: 'api-token' } });
  });

  it('refuses a JWT when no JWT secret is configured', async () => {
    const pair = await jwt.issuePair('c');
    const result = await authenticate(`Bearer ${pair.accessToken}`, { apiTokens: new ApiTokens([]), revocations: new MemoryRevocationList() });
    expect(result).toEqual({ ok: false, code: 'UNAUTHORIZED', message: 'invalid or expired token' });
  });

  it('answers the principal of a valid access token, and "token revoked" once revoked', async () => {
    const revocations = new MemoryRevocationList();
    const deps = { apiTokens: new ApiTokens([]), jwt, revocations };
    const pair = await jwt.issuePair('c');
    const ok = await authenticate(`Bearer ${pair.accessToken}`, deps);
    expect(ok).toMatchObject({ ok: true, principal: { kind: 'jwt', subject: 'c' } });
    if (!ok.ok || ok.principal.kind !== 'jwt') throw new Error('expected a JWT principal');
    await revocations.revoke(ok.principal.jti, ok.principal.expiresAt);
    expect(await authenticate(`Bearer ${pair.accessToken}`, deps)).toEqual({ ok: false, code: 'UNAUTHORIZED', message: 'token revoked' });
  });
});
