// A fresh runs directory and state directory per test, so each test's containers carry their
// own owner label (the owner is derived from the state directory) and nothing is shared.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.ts';

export interface TempDirs {
  /** Parent of everything below; removed by the cleanup. */
  root: string;
  /** Watched manifests (created empty). */
  runsDir: string;
  /** The server's state directory (not created: the server creates it, mode 0700). */
  stateDir: string;
}

/** Creates `<tmp>/stromboli-<prefix>-XXXXXX/{runs,state}` and registers its removal. */
export async function createTempDirs(cleanup: Cleanup, prefix: string): Promise<TempDirs> {
  const root = await mkdtemp(join(tmpdir(), `stromboli-${prefix}-`));
  cleanup.add(`remove ${root}`, () => rm(root, { recursive: true, force: true }));
  const runsDir = join(root, 'runs');
  await mkdir(runsDir);
  return { root, runsDir, stateDir: join(root, 'state') };
}
