import { mkdir, mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionDirs } from '../runner/session.ts';
import { SessionCatalog } from './sessions.ts';

const A = '5f0c8a9e-3b1d-4e2a-9c47-1d2e3f4a5b6c';
const B = '0b6c3a52-27c4-4b9e-8f1a-6b0f7f3a9d10';

let root: string;
let dirs: SessionDirs;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stromboli-sessions-'));
  dirs = new SessionDirs({ root });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function transcript(id: string, lines: readonly object[]): Promise<string> {
  const folder = join(root, id, '.claude', 'projects', '-workspace');
  await mkdir(folder, { recursive: true });
  const path = join(folder, `${id}.jsonl`);
  await writeFile(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

describe('SessionCatalog', () => {
  it('lists session directories with their titles; a session without a transcript has ""', async () => {
    await dirs.ensure(A);
    await dirs.ensure(B);
    await transcript(A, [{ type: 'user', uuid: 'u1', message: { role: 'user', content: 'hi' } }, { type: 'custom-title', customTitle: 'Greeting' }]);
    await mkdir(join(root, 'not-a-session'));
    const catalog = new SessionCatalog({ dirs });
    expect((await catalog.list()).sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { id: B, title: '' },
      { id: A, title: 'Greeting' },
    ]);
  });

  it('sees a title change once the transcript changes', async () => {
    await dirs.ensure(A);
    const catalog = new SessionCatalog({ dirs });
    await transcript(A, [{ type: 'ai-title', aiTitle: 'First' }]);
    expect(await catalog.list()).toEqual([{ id: A, title: 'First' }]);
    await transcript(A, [{ type: 'ai-title', aiTitle: 'First' }, { type: 'custom-title', customTitle: 'Renamed by the user' }]);
    expect(await catalog.list()).toEqual([{ id: A, title: 'Renamed by the user' }]);
  });

  it('reads the history in file order, conversation lines only', async () => {
    await dirs.ensure(A);
    await transcript(A, [
      { type: 'queue-operation', operation: 'enqueue' },
      { type: 'user', uuid: 'u1', message: { role: 'user', content: 'hi' } },
      { type: 'assistant', uuid: 'u2', parentUuid: 'u1', message: { role: 'assistant', content: [{ type: 'text', text: 'hello' }] } },
      { type: 'last-prompt', lastPrompt: 'hi' },
    ]);
    const history = await new SessionCatalog({ dirs }).history(A);
    expect(history?.map((m) => m.uuid)).toEqual(['u1', 'u2']);
  });

  it('answers undefined history for a session without transcript, and for no session at all', async () => {
    await dirs.ensure(A);
    const catalog = new SessionCatalog({ dirs });
    expect(await catalog.history(A)).toBeUndefined();
    expect(await catalog.history(B)).toBeUndefined();
  });

  it('refuses ids that are not session ids before touching a path', async () => {
    const catalog = new SessionCatalog({ dirs });
    await expect(catalog.history('../../etc')).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(catalog.remove('..')).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('removes a session directory, false when there is none', async () => {
    await dirs.ensure(A);
    const catalog = new SessionCatalog({ dirs });
    expect(await catalog.remove(A)).toBe(true);
    await expect(stat(join(root, A))).rejects.toThrow();
    expect(await catalog.remove(A)).toBe(false);
  });

  it('refuses to remove a session a run still uses (CONFLICT), and keeps it', async () => {
    await dirs.ensure(A);
    const catalog = new SessionCatalog({ dirs, inUse: async (id) => id === A });
    await expect(catalog.remove(A)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await stat(join(root, A))).isDirectory()).toBe(true);
  });
});
