// Telling node:fs errors apart by their errno code (STYLE.md §6.11: never by message text).

/** Whether `err` is a node:fs (or process) error with this errno code, e.g. 'ENOENT'. */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

/** A .catch() handler for reads of files that may not exist: ENOENT gives `fallback`, anything else rethrows. */
export function ifMissing<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if (isErrno(err, 'ENOENT')) return fallback;
    throw err;
  };
}
