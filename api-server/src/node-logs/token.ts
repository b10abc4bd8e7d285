// The bearer token the node agents and the facade share for the log endpoint. It is read from a
// file (a Kubernetes Secret mounted in both pods), never from argv or the environment, and
// compared in constant time. Neither the value nor a part of it is ever logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** Shortest accepted token: guessing must be hopeless (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_LOG_TOKEN_LENGTH = 32;

/** A token read from its file, and whether other users could read that file. */
export interface LogToken {
  value: string;
  /** The file is readable by group or others: worth a warning. */
  exposed: boolean;
}

/** Reads the token file (one line; a trailing newline is ignored). Throws a clear Error naming the file, never the value. */
export async function readLogToken(path: string): Promise<LogToken> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the log token file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.length < MIN_LOG_TOKEN_LENGTH || /\s/.test(value)) {
    throw new Error(`the log token file ${path} must hold one token of at least ${MIN_LOG_TOKEN_LENGTH} characters without spaces`);
  }
  return { value, exposed: ((await stat(path)).mode & 0o077) !== 0 };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Whether an Authorization header carries `Bearer <token>`; constant time in the token (both sides hashed to one length). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(given), digest(token)) && given !== '';
}
