// Session directories: one host directory per Claude session id under the state directory,
// mounted as the container HOME so `claude --resume` finds its transcript across runs.
import { chown, cp, lchown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { SessionIdSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { ValidationError } from '../../../contract/errors.ts';

export interface SessionDirsOptions {
  /** Parent of every session directory, e.g. <stateDir>/sessions. */
  root: string;
  /** Owner given to new directories when running as root (the container user). Default 1000:1000. */
  owner?: { uid: number; gid: number };
}

export interface SessionInfo {
  id: string;
  path: string;
  modified: Date;
}

/** Creates, finds and removes session directories; every id is validated before it touches a path. */
export class SessionDirs {
  readonly root: string;
  readonly #owner: { uid: number; gid: number };

  constructor(options: SessionDirsOptions) {
    this.root = resolve(options.root);
    this.#owner = options.owner ?? { uid: 1000, gid: 1000 };
  }

  /** The directory of a session; throws ValidationError for anything that is not a session id. */
  pathOf(id: string): string {
    if (!SessionIdSchema.safeParse(id).success) throw new ValidationError(`invalid session id: must be a lowercase UUID`);
    const path = join(this.root, id);
    if (!path.startsWith(this.root + sep)) throw new ValidationError('invalid session id');
    return path;
  }

  /** Creates the directory (and HOME/.claude) mode 0700, owned by the container user when we are root. */
  async ensure(id: string): Promise<string> {
    const path = this.pathOf(id);
    await mkdir(join(path, '.claude'), { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) {
      await chown(path, this.#owner.uid, this.#owner.gid);
      await chown(join(path, '.claude'), this.#owner.uid, this.#owner.gid);
    }
    return path;
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(id))).isDirectory();
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      return false;
    }
  }

  async list(): Promise<SessionInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const out: SessionInfo[] = [];
    for (const id of names) {
      if (!SessionIdSchema.safeParse(id).success) continue;
      const info = await stat(join(this.root, id)).catch(() => undefined);
      if (info?.isDirectory()) out.push({ id, path: join(this.root, id), modified: info.mtime });
    }
    return out.sort((a, b) => b.modified.getTime() - a.modified.getTime());
  }

  /**
   * Makes `to` a copy of session `from`'s HOME (for a fork), unless `to` exists already. Returns
   * false when `from` does not exist.
   */
  async fork(from: string, to: string): Promise<boolean> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    if (await this.exists(to)) return true;
    if (!(await this.exists(from))) return false;
    await cp(source, target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    if (process.getuid?.() === 0) await chownTree(target, this.#owner.uid, this.#owner.gid);
    return true;
  }

  /** Whether the CLI already wrote this session's transcript (HOME/.claude/projects/<cwd>/<id>.jsonl). */
  async hasTranscript(id: string): Promise<boolean> {
    const projects = join(this.pathOf(id), '.claude', 'projects');
    let dirs: string[];
    try {
      dirs = await readdir(projects);
    } catch {
      return false;
    }
    for (const dir of dirs) {
      const info = await stat(join(projects, dir, `${id}.jsonl`)).catch(() => undefined);
      if (info?.isFile()) return true;
    }
    return false;
  }

  /** Removes a session directory; false when it did not exist. */
  async remove(id: string): Promise<boolean> {
    const path = this.pathOf(id);
    if (!(await this.exists(id))) return false;
    await rm(path, { recursive: true, force: true });
    return true;
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory() !== true) return;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await lchown(child, uid, gid);
  }
}
