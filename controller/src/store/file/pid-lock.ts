// The pid lock file that keeps two controllers off one state directory on the same host
// (docs/file-store.md, "Lifecycle and the lock" and "Limits").

import { open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../../../../contract/errors.ts';
import { fsyncDirectory } from './atomic-write.ts';
import { ifMissing, isErrno } from './fs-errors.ts';

/** A lock file that holds no pid is stale only once this old (ms): a starting holder may be writing it. */
const EMPTY_LOCK_GRACE_MS = 10_000;

/**
 * Creates `path` with O_EXCL holding this pid. A lock of a dead process (or an empty one older
 * than the grace period) is taken over; a live holder, this process included, fails with
 * AppError 'UNAVAILABLE' naming the pid and the file to remove.
 */
export async function acquireLock(path: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDirectory(dirname(path));
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const text = await readFile(path, 'utf8').catch(ifMissing(undefined));
    if (text === undefined) continue; // released meanwhile
    const pid = Number(text.trim());
    const hint = `stop that controller, or remove ${path} if it is not running`;
    if (Number.isSafeInteger(pid) && pid > 0) {
      if (isProcessAlive(pid)) {
        throw new AppError('UNAVAILABLE', `the state directory ${dirname(path)} is in use by process ${pid}: ${hint}`, { details: { lockFile: path, pid } });
      }
    } else {
      const info = await stat(path).catch(ifMissing(undefined));
      if (info !== undefined && Date.now() - info.mtimeMs < EMPTY_LOCK_GRACE_MS) {
        throw new AppError('UNAVAILABLE', `the state directory ${dirname(path)} is being locked by another process: ${hint}`, { details: { lockFile: path } });
      }
    }
    await rm(path, { force: true }); // stale: its process is gone; take it over
  }
  throw new AppError('UNAVAILABLE', `could not take the lock ${path}`, { details: { lockFile: path } });
}

/** Removes the lock only if it still holds this pid, so closing never frees another process's lock. */
export async function releaseLock(path: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(ifMissing(undefined));
  if (text?.trim() === String(process.pid)) await rm(path, { force: true });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH'); // EPERM: alive, owned by someone else
  }
}
