import { describe, expect, it } from 'vitest';
import { checkJwtSecret, decideAuth, isLoopbackHost, parseApiTokens } from './policy.ts';

const GOOD = 'k3J9fQ2mX8vL4pR7sT1wY6zA5bC0dE3gH';
const TOKEN = 'static-api-token-0123456789';

describe('checkJwtSecret', () => {
  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['short', 'shorter than 32 characters'],
    ['Change-Me', 'a known placeholder value'],
    ['  generate-with-openssl-rand-base64-32 ', 'a known placeholder value'],
    ['insecure-secret-do-not-use-in-prod', 'a known placeholder value'],
  ])('refuses %j (%s)', (secret, problem) => {
    expect(checkJwtSecret(secret)).toBe(problem);
  });

  it('accepts 32 random characters', () => {
    expect(checkJwtSecret(GOOD)).toBeUndefined();
  });
});

describe('parseApiTokens', () => {
  it('reads one token per line, ignoring blank lines and # comments', () => {
    expect(parseApiTokens('# ci tokens\nfirst-token-aaaaaaaa\n\n  second-token-bbbbbbb  \r\n#x\n')).toEqual(['first-token-aaaaaaaa', 'second-token-bbbbbbb']);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
    ['example.com', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('decideAuth', () => {
  it('runs without auth on loopback by default, and says so', () => {
    const d = decideAuth({ mode: 'auto', host: '127.0.0.1' });
    expect(d).toMatchObject({ enabled: false, jwt: false });
    expect(d.summary).toMatch(/authentication disabled/);
  });

  it('refuses to start on a non-loopback address without credentials', () => {
    expect(() => decideAuth({ mode: 'auto', host: '0.0.0.0' })).toThrow(/auth is enabled because 0.0.0.0 is not a loopback address but there is no JWT secret/);
  });

  it('turns auth on for a non-loopback address with a JWT secret or an API token file', () => {
    expect(decideAuth({ mode: 'auto', host: '0.0.0.0', jwtSecret: GOOD })).toMatchObject({ enabled: true, jwt: true, summary: 'authentication required (JWT)' });
    expect(decideAuth({ mode: 'auto', host: '0.0.0.0', apiTokens: [TOKEN] })).toMatchObject({ enabled: true, jwt: false, summary: 'authentication required (1 API token(s))' });
  });

  it('turns auth on for loopback too once credentials are configured', () => {
    expect(decideAuth({ mode: 'auto', host: '127.0.0.1', apiTokens: [TOKEN] }).enabled).toBe(true);
  });

  it('refuses a weak JWT secret whatever the mode, without echoing it', () => {
    for (const mode of ['auto', 'on', 'off'] as const) {
      let message = '';
      try {
        decideAuth({ mode, host: '127.0.0.1', jwtSecret: 'changeme' });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/JWT secret is a known placeholder value/);
      expect(message).not.toContain('changeme');
    }
  });

  it('refuses an empty token file and short tokens', () => {
    expect(() => decideAuth({ mode: 'auto', host: '0.0.0.0', apiTokens: [] })).toThrow(/holds no token/);
    expect(() => decideAuth({ mode: 'auto', host: '0.0.0.0', apiTokens: ['short'] })).toThrow(/at least 16 characters/);
  });

  it('honours --auth on loopback (needs credentials) and --no-auth anywhere (loudly)', () => {
    expect(() => decideAuth({ mode: 'on', host: '127.0.0.1' })).toThrow(/auth is enabled but there is no JWT secret/);
    const off = decideAuth({ mode: 'off', host: '0.0.0.0', jwtSecret: GOOD });
    expect(off).toMatchObject({ enabled: false, jwt: true });
    expect(off.summary).toMatch(/non-loopback/);
  });
});
