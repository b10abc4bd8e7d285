import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAuthSources } from './load.ts';
import { setupAuth } from './setup.ts';

const SECRET = 'k3J9fQ2mX8vL4pR7sT1wY6zA5bC0dE3gH';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stromboli-auth-load-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode });
  return path;
}

describe('loadAuthSources', () => {
  it('reads the JWT secret file (without its trailing newline) in preference to the environment', async () => {
    const loaded = await loadAuthSources({ jwtSecretFile: await file('jwt', `${SECRET}\n`), env: { STROMBOLI_JWT_SECRET: 'from-env-0123456789-0123456789-01' } });
    expect(loaded).toEqual({ jwtSecret: SECRET, sources: ['jwt-secret-file'], exposedFiles: [] });
  });

  it('falls back to STROMBOLI_JWT_SECRET, and merges the token file with STROMBOLI_API_TOKENS', async () => {
    const loaded = await loadAuthSources({ apiTokenFile: await file('tokens', 'file-token-0123456789\n'), env: { STROMBOLI_JWT_SECRET: SECRET, STROMBOLI_API_TOKENS: ' env-token-0123456789 , ' } });
    expect(loaded.jwtSecret).toBe(SECRET);
    expect(loaded.apiTokens).toEqual(['file-token-0123456789', 'env-token-0123456789']);
    expect(loaded.sources).toEqual(['STROMBOLI_JWT_SECRET', 'api-token-file', 'STROMBOLI_API_TOKENS']);
  });

  it('names a credential file other users can read', async () => {
    const path = await file('jwt', SECRET, 0o644);
    expect((await loadAuthSources({ jwtSecretFile: path, env: {} })).exposedFiles).toEqual([path]);
  });

  it('fails clearly, without the content, for a missing file', async () => {
    await expect(loadAuthSources({ jwtSecretFile: join(dir, 'nope'), env: {} })).rejects.toThrow(/cannot read the JWT secret file .*nope: ENOENT/);
  });

  it('reads nothing when nothing is configured', async () => {
    expect(await loadAuthSources({ env: {} })).toEqual({ sources: [], exposedFiles: [] });
  });
});

describe('setupAuth', () => {
  it('builds buildApp auth options with a persistent revocation list', async () => {
    const setup = await setupAuth({
      mode: 'auto',
      host: '0.0.0.0',
      env: { STROMBOLI_JWT_SECRET: SECRET },
      revocationsPath: join(dir, 'auth', 'revoked.json'),
      accessTtlSeconds: 60,
      refreshTtlSeconds: 120,
    });
    expect(setup.decision).toMatchObject({ enabled: true, jwt: true });
    expect(setup.app).toMatchObject({ enabled: true, jwt: { secret: SECRET, accessTtlSeconds: 60, refreshTtlSeconds: 120 } });
    await setup.app.revocations?.revoke('j', Math.floor(Date.now() / 1000) + 60);
    const again = await setupAuth({ mode: 'auto', host: '0.0.0.0', env: { STROMBOLI_JWT_SECRET: SECRET }, revocationsPath: join(dir, 'auth', 'revoked.json'), accessTtlSeconds: 60, refreshTtlSeconds: 120 });
    expect(await again.app.revocations?.isRevoked('j')).toBe(true);
  });

  it('throws before opening anything when the server must not start', async () => {
    await expect(setupAuth({ mode: 'auto', host: '0.0.0.0', env: {}, revocationsPath: join(dir, 'r.json'), accessTtlSeconds: 60, refreshTtlSeconds: 60 })).rejects.toThrow(/not a loopback address/);
  });
});
