// The sessions the API lists and deletes, and their history: session directories (SessionDirs)
// plus the transcript Claude keeps in each. Read-only except `remove`, which refuses a session a
// run is still using (its directory is that container's HOME).
import { lstat } from 'node:fs/promises';
import { z } from 'zod';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { Phase } from '../../../contract/apis/v1alpha1/index.ts';
import { ConflictError } from '../../../contract/errors.ts';
import type { SessionSummary } from '../../../contract/catalog.ts';
import type { SessionPort } from '../../../contract/ports.ts';
import type { SessionDirs } from '../runner/session.ts';
import { findTranscript, parseHistoryLine, readTranscriptLines, titleOf } from './session-history.ts';
import type { HistoryMessage } from './session-history.ts';

export type { SessionSummary };

export interface SessionCatalogOptions {
  dirs: SessionDirs;
  /** Whether a run that is not finished uses the session. Default: never (nothing is refused). */
  inUse?: (id: string) => Promise<boolean>;
}

/** What sessionInUse needs of a run: its spec (unvalidated) and status. */
export interface SessionUser {
  spec: unknown;
  status?: { phase?: Phase | undefined; sessionId?: string | undefined } | undefined;
}

const SpecSessionSchema = z.looseObject({ session: z.looseObject({ id: z.string() }).optional() });

/** Whether an unfinished run uses session `id`: it names it in its spec or runs in it (status). */
export function sessionInUse(runs: readonly SessionUser[], id: string): boolean {
  return runs.some((run) => {
    if (isTerminalPhase(run.status?.phase)) return false;
    if (run.status?.sessionId === id) return true;
    const spec = SpecSessionSchema.safeParse(run.spec);
    return spec.success && spec.data.session?.id === id;
  });
}

interface CachedTitle {
  path: string;
  mtimeMs: number;
  size: number;
  title: string;
}

/** Lists, deletes and reads sessions; every id is validated by SessionDirs before it touches a path. */
export class SessionCatalog implements SessionPort {
  readonly #dirs: SessionDirs;
  readonly #inUse: (id: string) => Promise<boolean>;
  // Titles need a scan of the whole transcript: remembered until the file changes.
  readonly #titles = new Map<string, CachedTitle>();

  constructor(options: SessionCatalogOptions) {
    this.#dirs = options.dirs;
    this.#inUse = options.inUse ?? (async () => false);
  }

  /** Every session directory, most recently used first. */
  async list(): Promise<SessionSummary[]> {
    const sessions = await this.#dirs.list();
    const out: SessionSummary[] = [];
    for (const session of sessions) out.push({ id: session.id, title: await this.#title(session.id, session.path) });
    const live = new Set(sessions.map((s) => s.id));
    for (const id of this.#titles.keys()) if (!live.has(id)) this.#titles.delete(id);
    return out;
  }

  /**
   * Removes the session directory. False when it does not exist; ValidationError for an id that is
   * not a session id; ConflictError while a run uses it.
   */
  async remove(id: string): Promise<boolean> {
    this.#dirs.pathOf(id);
    if (!(await this.#dirs.exists(id))) return false;
    if (await this.#inUse(id)) throw new ConflictError('session is in use by a run that has not finished', { details: { sessionId: id } });
    this.#titles.delete(id);
    return this.#dirs.remove(id);
  }

  /** The session's conversation in file order; undefined when the session has no transcript. */
  async history(id: string): Promise<HistoryMessage[] | undefined> {
    const path = await findTranscript(this.#dirs.pathOf(id), id);
    if (path === undefined) return undefined;
    const messages: HistoryMessage[] = [];
    for await (const line of readTranscriptLines(path)) {
      const message = parseHistoryLine(line);
      if (message !== undefined) messages.push(message);
    }
    return messages;
  }

  async #title(id: string, dir: string): Promise<string> {
    // Best effort: an unreadable transcript gives an empty title, never a failed listing.
    try {
      const path = await findTranscript(dir, id);
      if (path === undefined) return '';
      const info = await lstat(path);
      const cached = this.#titles.get(id);
      if (cached !== undefined && cached.path === path && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached.title;
      const title = await titleOf(readTranscriptLines(path));
      this.#titles.set(id, { path, mtimeMs: info.mtimeMs, size: info.size, title });
      return title;
    } catch {
      return '';
    }
  }
}
