// Durable writes for the file store's state directory: a crash leaves either the old file or
// the new one, never a torn one (docs/file-store.md, "Writes are atomic").

import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isErrno } from './fs-errors.ts';

/**
 * Writes a temp file in `tmpDir` (same filesystem as `path`), fsyncs it, renames it over the
 * target, then fsyncs the directory so the rename itself survives a crash. Creates (and fsyncs)
 * missing parent directories.
 */
export async function writeFileAtomic(path: string, data: string, tmpDir: string): Promise<void> {
  const created = await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  if (created !== undefined) await fsyncDirectory(dirname(created));
  const tmp = join(tmpDir, `${randomUUID()}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDirectory(dirname(path));
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
