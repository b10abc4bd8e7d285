import { mkdtemp, readFile, rm, stat, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileRevocationList, MemoryRevocationList } from './revocations.ts';

const T0 = Date.parse('2026-11-29T12:00:00Z');
const S0 = T0 / 1000;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stromboli-revocations-'));
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('MemoryRevocationList', () => {
  it('remembers a revoked id and forgets it once its token has expired', async () => {
    let now = T0;
    const list = new MemoryRevocationList({ now: () => now });
    await list.revoke('a', S0 + 10);
    expect(await list.isRevoked('a')).toBe(true);
    expect(await list.isRevoked('b')).toBe(false);
    now += 11_000;
    await list.revoke('b', S0 + 100);
    expect(await list.isRevoked('a')).toBe(false);
  });
});

describe('FileRevocationList', () => {
  it('survives a restart: a second list over the same file sees the revocation', async () => {
    const path = join(dir, 'auth', 'revoked-tokens.json');
    const first = await FileRevocationList.open({ path, now: () => T0 });
    await first.revoke('jti-1', S0 + 3600);
    const second = await FileRevocationList.open({ path, now: () => T0 });
    expect(await second.isRevoked('jti-1')).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, revoked: { 'jti-1': S0 + 3600 } });
  });

  it('starts empty when the file does not exist yet', async () => {
    const list = await FileRevocationList.open({ path: join(dir, 'none.json') });
    expect(await list.isRevoked('x')).toBe(false);
  });

  it('drops expired entries when loading', async () => {
    const path = join(dir, 'revoked.json');
    await writeFile(path, JSON.stringify({ version: 1, revoked: { old: S0 - 1, live: S0 + 60 } }));
    const list = await FileRevocationList.open({ path, now: () => T0 });
    expect(await list.isRevoked('old')).toBe(false);
    expect(await list.isRevoked('live')).toBe(true);
  });

  it('refuses to start over a corrupt file rather than forget revocations', async () => {
    const path = join(dir, 'revoked.json');
    await writeFile(path, '{not json');
    await expect(FileRevocationList.open({ path })).rejects.toThrow(/not JSON; fix or remove it/);
    await writeFile(path, JSON.stringify({ version: 2 }));
    await expect(FileRevocationList.open({ path })).rejects.toThrow(/unexpected shape/);
  });

  it('keeps concurrent revocations (writes are serialized)', async () => {
    const path = join(dir, 'revoked.json');
    const list = await FileRevocationList.open({ path, now: () => T0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => list.revoke(`j${i}`, S0 + 60)));
    const reloaded = await FileRevocationList.open({ path, now: () => T0 });
    for (let i = 0; i < 20; i++) expect(await reloaded.isRevoked(`j${i}`)).toBe(true);
  });

  it('rejects when the write fails, and still refuses the id in this process', async () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions: make the target path a directory instead.
      const path = join(dir, 'is-a-dir');
      await mkdir(path);
      const list = await FileRevocationList.open({ path: join(path, 'x.json'), now: () => T0 });
      await mkdir(join(path, 'x.json'));
      await expect(list.revoke('j', S0 + 60)).rejects.toThrow();
      expect(await list.isRevoked('j')).toBe(true);
      return;
    }
    const locked = join(dir, 'locked');
    await mkdir(locked);
    const list = await FileRevocationList.open({ path: join(locked, 'x.json'), now: () => T0 });
    await chmod(locked, 0o500);
    await expect(list.revoke('j', S0 + 60)).rejects.toThrow();
    expect(await list.isRevoked('j')).toBe(true);
  });
});
