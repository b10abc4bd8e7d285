import { SignJWT, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtService } from './jwt.ts';

const SECRET = 'a-jwt-secret-of-more-than-32-characters-for-tests';
const T0 = Date.parse('2026-11-29T12:00:00Z');

function service(now = () => T0, ttl: { accessTtlSeconds?: number; refreshTtlSeconds?: number } = {}) {
  return new JwtService({ secret: SECRET, now, ...ttl });
}

describe('JwtService', () => {
  it('verifies its own access and refresh tokens, each only as its kind', async () => {
    const jwt = service();
    const pair = await jwt.issuePair('client-a');
    const access = await jwt.verify(pair.accessToken, 'access');
    expect(access).toEqual({ subject: 'client-a', jti: decodeJwt(pair.accessToken).jti, issuedAt: T0 / 1000, expiresAt: T0 / 1000 + 86400 });
    expect(await jwt.verify(pair.refreshToken, 'refresh')).toMatchObject({ subject: 'client-a', expiresAt: T0 / 1000 + 168 * 3600 });
    expect(await jwt.verify(pair.accessToken, 'refresh')).toBeUndefined();
    expect(await jwt.verify(pair.refreshToken, 'access')).toBeUndefined();
  });

  it('uses the configured lifetimes', async () => {
    const pair = await service(() => T0, { accessTtlSeconds: 60, refreshTtlSeconds: 120 }).issuePair('c');
    expect(pair.expiresIn).toBe(60);
    expect(decodeJwt(pair.refreshToken).exp).toBe(T0 / 1000 + 120);
  });

  it('refuses an expired token', async () => {
    let now = T0;
    const jwt = service(() => now, { accessTtlSeconds: 60 });
    const pair = await jwt.issuePair('c');
    now += 61_000;
    expect(await jwt.verify(pair.accessToken, 'access')).toBeUndefined();
  });

  it('refuses HS512 and tokens missing a required claim, even with the right key', async () => {
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(T0 / 1000);
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('c').setIssuedAt(now).setExpirationTime(now + 60).setJti('j').sign(key);
    const noJti = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('c').setIssuedAt(now).setExpirationTime(now + 60).sign(key);
    const jwt = service();
    expect(await jwt.verify(hs512, 'access')).toBeUndefined();
    expect(await jwt.verify(noJti, 'access')).toBeUndefined();
    expect(await jwt.verify('not.a.jwt', 'access')).toBeUndefined();
  });

  it('refuses non-positive lifetimes at construction', () => {
    expect(() => service(() => T0, { accessTtlSeconds: 0 })).toThrow(/accessTtlSeconds/);
  });
});
