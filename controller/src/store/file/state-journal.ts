// The file store's journal (docs/file-store.md, "On disk"): an append-only file of JSON lines in
// stateDir, one line per change, a group of changes written with one write and made durable with
// one fdatasync. Generations: journal-<G>.jsonl; a snapshot names the first generation that
// follows it (state-snapshot.ts), so replay starts there and older generations are stale.

import { readdirSync, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from './atomic-write.ts';
import { isErrno } from './fs-errors.ts';

const JOURNAL_FILE = /^journal-(\d+)\.jsonl$/;
const NEWLINE = 0x0a;

/** The file name of journal generation `generation`. */
export function journalName(generation: number): string {
  return `journal-${generation}.jsonl`;
}

/** The journal generations present in `stateDir`, ascending. */
export function listJournals(stateDir: string): number[] {
  const generations: number[] = [];
  for (const name of readdirSync(stateDir)) {
    const match = JOURNAL_FILE.exec(name);
    if (match?.[1] !== undefined) generations.push(Number(match[1]));
  }
  return generations.sort((a, b) => a - b);
}

/** Removes every journal generation older than `generation`: their changes are in the snapshot that names it. */
export async function removeJournalsBefore(stateDir: string, generation: number): Promise<void> {
  for (const old of listJournals(stateDir)) if (old < generation) await rm(join(stateDir, journalName(old)), { force: true });
}

/** A journal file as found on open: its complete lines and the length they end at. */
export interface JournalRead {
  lines: string[];
  /** Bytes up to and including the last newline: what the next append continues from. */
  goodBytes: number;
  /** Bytes after the last newline: the torn tail of an append a crash interrupted (never acknowledged). */
  tornBytes: number;
}

/** Reads a journal file (synchronously: on open nothing else waits). A missing file is an empty journal. */
export function readJournal(path: string): JournalRead {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { lines: [], goodBytes: 0, tornBytes: 0 };
    throw err;
  }
  const goodBytes = data.lastIndexOf(NEWLINE) + 1;
  const lines = goodBytes === 0 ? [] : data.toString('utf8', 0, goodBytes - 1).split('\n');
  return { lines, goodBytes, tornBytes: data.length - goodBytes };
}

/**
 * The generation appends go to. The file is opened (O_APPEND, created 0600) at the first append;
 * a file created then is made durable in its directory before that append is acknowledged. A
 * torn tail (found on open, or left by an append that failed) is truncated away before the next
 * append, so an unacknowledged partial line never precedes an acknowledged one.
 */
export class JournalAppender {
  readonly generation: number;
  readonly #dir: string;
  readonly #path: string;
  #handle: FileHandle | undefined;
  /** Length of the file up to its last complete append. */
  #size: number;
  #existsOnDisk: boolean;
  #tornTail: boolean;

  constructor(stateDir: string, generation: number, found?: { goodBytes: number; tornBytes: number }) {
    this.generation = generation;
    this.#dir = stateDir;
    this.#path = join(stateDir, journalName(generation));
    this.#size = found?.goodBytes ?? 0;
    this.#existsOnDisk = found !== undefined && found.goodBytes + found.tornBytes > 0;
    this.#tornTail = (found?.tornBytes ?? 0) > 0;
  }

  /** Bytes of complete appends in this generation. */
  get size(): number {
    return this.#size;
  }

  get path(): string {
    return this.#path;
  }

  /** Appends `text` (whole lines) with one write and one fdatasync; resolves once it survives a crash. */
  async append(text: string): Promise<void> {
    const data = Buffer.from(text, 'utf8');
    try {
      this.#handle ??= await open(this.#path, 'a', 0o600);
      const handle = this.#handle;
      if (this.#tornTail) {
        await handle.truncate(this.#size);
        await handle.sync();
        this.#tornTail = false;
      }
      for (let offset = 0; offset < data.length; ) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
      await handle.datasync();
      if (!this.#existsOnDisk) {
        await fsyncDirectory(this.#dir);
        this.#existsOnDisk = true;
      }
    } catch (err) {
      this.#tornTail = true; // part of it may be in the file: cut back to the last complete append before the next one
      throw err;
    }
    this.#size += data.length;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}

/** One line of the journal or the snapshot as a value; undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return value;
  } catch {
    return undefined;
  }
}
