// What the file store reports about files it cannot use (docs/file-store.md, "What is
// reported"): kept until fixed, returned by FileStore.problems(), logged once when they change.

import type { z } from 'zod';
import { boundedMessage } from '../../../../contract/errors.ts';
import type { FileStoreLogger } from './file-store-options.ts';
import { compareStrings } from '../../../../contract/store/object-list.ts';

/** A manifest the store could not use; returned by problems() until the file is fixed. */
export interface FileProblem {
  /** The file as runsDir joined with its relative path (e.g. `runs/x.yaml`), or a state file's path (snapshot, journal). */
  path: string;
  /** 1-based document position in a multi-document file; absent when the whole file is the problem. */
  document?: number;
  error: string;
  /** Set for a document of another kind or apiVersion: ignored on purpose, listed so a typo shows. */
  skipped?: true;
}

/**
 * The current problems of one store, by source: state files (found on open), manifest files
 * (replaced each time a file is read) and names (replaced each time a name is synced). A change
 * is logged once, so a file that stays broken does not repeat its warning.
 */
export class ProblemReport {
  readonly #log: FileStoreLogger;
  readonly #state: FileProblem[] = [];
  readonly #files = new Map<string, FileProblem[]>();
  readonly #keys = new Map<string, FileProblem[]>();

  constructor(log: FileStoreLogger) {
    this.#log = log;
  }

  /** Every problem, each a copy, sorted by path then document. */
  all(): FileProblem[] {
    const all = [...this.#state, ...[...this.#files.values()].flat(), ...[...this.#keys.values()].flat()];
    return all.map((p) => ({ ...p })).sort((a, b) => compareStrings(a.path, b.path) || (a.document ?? 0) - (b.document ?? 0));
  }

  /** An unreadable snapshot, journal line or (when migrating) record file; these stay until the next open. */
  addState(path: string, error: string): void {
    this.#state.push({ path, error });
    this.#log.warn({ path, error }, 'state record problem');
  }

  /** Replaces the problems of one manifest file (relative path); an empty list clears them. */
  setFile(rel: string, problems: FileProblem[]): void {
    if (!this.#replace(this.#files, rel, problems)) return;
    for (const p of problems) {
      if (p.skipped === true) this.#log.info({ ...p }, 'manifest document skipped');
      else this.#log.warn({ ...p }, 'manifest problem');
    }
  }

  /** Replaces the problems of one name ("namespace/name"): documents that declare it but were not applied. */
  setKey(key: string, problems: FileProblem[]): void {
    if (!this.#replace(this.#keys, key, problems)) return;
    for (const p of problems) this.#log.warn({ ...p }, 'manifest document not applied');
  }

  /** Whether the list changed. */
  #replace(map: Map<string, FileProblem[]>, key: string, problems: FileProblem[]): boolean {
    const before = JSON.stringify(map.get(key) ?? []);
    if (problems.length === 0) map.delete(key);
    else map.set(key, problems);
    return JSON.stringify(problems) !== before;
  }
}

/** An error as a problem's text: its message, bounded like every message the store keeps. */
export function errorText(err: unknown): string {
  return boundedMessage(err instanceof Error ? err.message : String(err));
}

/** A zod failure as a problem's text ("metadata.name: required (a string)"), paths under `prefix`. */
export function issueText(error: z.ZodError, prefix?: string): string {
  const at = (path: PropertyKey[]): string => [...(prefix === undefined ? [] : [prefix]), ...path.map(String)].join('.');
  return boundedMessage(error.issues.map((i) => (at(i.path) === '' ? i.message : `${at(i.path)}: ${i.message}`)).join('; '));
}
