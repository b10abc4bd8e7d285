// Revoked JWT ids (logout, refresh rotation). A token is revoked until it would have expired
// anyway, so entries carry that time and are pruned after it. The file-backed list persists in
// the state directory, so a logout survives a restart (Stromboli's default list is in memory).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** Where revoked token ids live. Failures make the auth hook answer 503 (fail closed). */
export interface RevocationList {
  isRevoked(jti: string): Promise<boolean>;
  /** Revokes `jti` until `expiresAt` (unix seconds). */
  revoke(jti: string, expiresAt: number): Promise<void>;
}

/** The in-memory list: the fake for tests, and what a server without a state directory uses. */
export class MemoryRevocationList implements RevocationList {
  protected readonly entries = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.entries.has(jti);
  }

  async revoke(jti: string, expiresAt: number): Promise<void> {
    this.entries.set(jti, expiresAt);
    this.prune();
  }

  /** Drops entries whose token has expired (they cannot be presented any more). */
  protected prune(): void {
    const nowSeconds = Math.floor(this.#now() / 1000);
    for (const [jti, expiresAt] of this.entries) if (expiresAt < nowSeconds) this.entries.delete(jti);
  }
}

const FileSchema = z.object({ version: z.literal(1), revoked: z.record(z.string(), z.number()) });

export interface FileRevocationListOptions {
  /** The JSON file, e.g. <stateDir>/auth/revoked-tokens.json; created (mode 0600) on the first revocation. */
  path: string;
  now?: () => number;
}

/** The list persisted as one JSON file, rewritten atomically (temp file + rename) on each revocation. */
export class FileRevocationList extends MemoryRevocationList {
  readonly #path: string;
  #writing: Promise<void> = Promise.resolve();

  private constructor(options: FileRevocationListOptions) {
    super(options.now === undefined ? {} : { now: options.now });
    this.#path = options.path;
  }

  /** Loads the file. A missing file is an empty list; an unreadable or corrupt one throws, so the server does not start forgetting revocations. */
  static async open(options: FileRevocationListOptions): Promise<FileRevocationList> {
    const list = new FileRevocationList(options);
    let text: string | undefined;
    try {
      text = await readFile(options.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new Error(`revoked-token file ${options.path} is not JSON; fix or remove it`, { cause });
      }
      const parsed = FileSchema.safeParse(json);
      if (!parsed.success) throw new Error(`revoked-token file ${options.path} has an unexpected shape; fix or remove it`);
      for (const [jti, expiresAt] of Object.entries(parsed.data.revoked)) list.entries.set(jti, expiresAt);
      list.prune();
    }
    return list;
  }

  override async revoke(jti: string, expiresAt: number): Promise<void> {
    // Revoked in memory at once, whatever happens to the write: this process never accepts it again.
    await super.revoke(jti, expiresAt);
    const write = this.#writing.catch(() => undefined).then(() => this.#persist());
    this.#writing = write;
    await write;
  }

  async #persist(): Promise<void> {
    const body = JSON.stringify({ version: 1, revoked: Object.fromEntries(this.entries) });
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    const tmp = `${this.#path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, this.#path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
