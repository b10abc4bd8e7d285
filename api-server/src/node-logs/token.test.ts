import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bearerMatches, readLogToken } from './token.ts';

const dir = await mkdtemp(join(tmpdir(), 'log-token-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const TOKEN = 'a'.repeat(40);

describe('the shared log token', () => {
  it('reads one line from its file and tells whether others could read it', async () => {
    await writeFile(join(dir, 'ok'), `${TOKEN}\n`, { mode: 0o600 });
    expect(await readLogToken(join(dir, 'ok'))).toEqual({ value: TOKEN, exposed: false });
    await writeFile(join(dir, 'open'), TOKEN, { mode: 0o644 });
    expect((await readLogToken(join(dir, 'open'))).exposed).toBe(true);
  });

  it('refuses a short token or a missing file without showing the value', async () => {
    await writeFile(join(dir, 'short'), 'secret-but-short', { mode: 0o600 });
    const error = await readLogToken(join(dir, 'short')).catch((err: unknown) => err as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/at least 32 characters/);
    expect((error as Error).message).not.toContain('secret-but-short');
    await expect(readLogToken(join(dir, 'missing'))).rejects.toThrow(/cannot read the log token file .*ENOENT/);
  });

  it('accepts only Bearer with the exact token', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });
});
