// Atomic, durable file writes for the file store's state directory (the snapshot; the journal
// appends instead): a crash leaves either the old file or the new one, never a torn one
// (docs/file-store.md, "On disk"). Several files are made durable together: every temp file
// fsynced, then renamed, then each directory fsynced once.

import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isErrno } from './fs-errors.ts';
import { forEachLimited } from './group-commit.ts';

/** File operations in flight at once; libuv runs 4 at a time by default, a few more keep its threads busy. */
const PARALLEL_FILE_OPS = 16;

/** One change of a group: write `data` to `path`, or remove `path` (data undefined). */
export interface FileChange {
  path: string;
  data: string | undefined;
}

/**
 * Applies the changes atomically per file and durably as a whole: each new content goes to a
 * temp file in `tmpDir` (same filesystem) and is fsynced; then every temp file is renamed over
 * its target and every removal made; then each touched directory is fsynced once, so the
 * renames survive a crash. Missing parent directories are created (and their parent fsynced).
 * At most one change per path.
 */
export async function applyChangesDurably(changes: readonly FileChange[], tmpDir: string): Promise<void> {
  const dirs = new Set(changes.map((c) => dirname(c.path)));
  for (const dir of dirs) {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) await fsyncDirectory(dirname(created));
  }
  const temps = new Map<FileChange, string>();
  try {
    await forEachLimited(changes, PARALLEL_FILE_OPS, async (change) => {
      if (change.data === undefined) return;
      const tmp = join(tmpDir, `${randomUUID()}.tmp`);
      temps.set(change, tmp);
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(change.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    await forEachLimited(changes, PARALLEL_FILE_OPS, async (change) => {
      const tmp = temps.get(change);
      if (tmp === undefined) return rm(change.path, { force: true });
      await rename(tmp, change.path);
      temps.delete(change);
    });
  } finally {
    await forEachLimited([...temps.values()], PARALLEL_FILE_OPS, (tmp) => rm(tmp, { force: true }));
  }
  await forEachLimited([...dirs], PARALLEL_FILE_OPS, fsyncDirectory);
}

/** Makes a create, rename or unlink in `path` durable; a no-op on platforms that cannot fsync a directory. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EISDIR') && !isErrno(err, 'EPERM')) throw err; // platforms that cannot fsync a directory
  } finally {
    await handle.close();
  }
}
