// FileStore's options and their defaults (docs/file-store.md, "Options"). file-store.ts
// re-exports the public types, so callers keep importing them from there.

import { resolve } from 'node:path';
import type { LogSink } from '../../../../contract/logger.ts';

/** The levels of a logger the store uses, so the store does not depend on pino. */
export type FileStoreLogger = Pick<LogSink, 'warn' | 'info' | 'debug'>;

/** Options of FileStore.open(); every field is optional and the caller's object is never changed. */
export interface FileStoreOptions<S> {
  /** Directory of user manifests (*.yaml, *.yml), watched recursively, never written. Default: './runs'. */
  runsDir?: string;
  /** Directory the store owns: lock, snapshot and journal of every run's state, API-created runs. Default: './.stromboli'. */
  stateDir?: string;
  /** apiVersion of the documents that are runs; others are skipped. Default: 'stromboli.dev/v1alpha1'. */
  apiVersion?: string;
  /** kind of the documents that are runs; others are skipped. Default: 'AgentRun'. */
  kind?: string;
  /** Namespace of a manifest or create() without metadata.namespace. Default: 'default'. */
  defaultNamespace?: string;
  /** A manifest file larger than this is reported, not read. Default: 1 MiB (1_048_576). */
  maxFileBytes?: number;
  /** A changed file is read at once; what that read cannot settle (missing, broken, a name in two files, a run no longer declared) is read again once the directory has been quiet this long (ms). Default: 200. */
  settleMs?: number;
  /** The journal is compacted into a new snapshot once it is larger than this and than the last snapshot (bytes). Default: 4 MiB. */
  compactAfterBytes?: number;
  /** Where problems and changes are reported. Default: a logger that drops everything. */
  log?: FileStoreLogger;
  /** Checks a status read back from stateDir after a restart; a throw drops that status. Default: trusts it (only this store writes stateDir). */
  parseStatus?: (value: unknown) => S;
}

/** The options with every default filled in and the directories made absolute; what the store's parts share. */
export interface FileStoreSettings<S> {
  /** Absolute runsDir. */
  runsDir: string;
  /** runsDir as the caller wrote it: the paths in problems and messages start with it. */
  runsDirShown: string;
  /** Absolute stateDir. */
  stateDir: string;
  apiVersion: string;
  kind: string;
  defaultNamespace: string;
  maxFileBytes: number;
  settleMs: number;
  compactAfterBytes: number;
  log: FileStoreLogger;
  parseStatus: (value: unknown) => S;
}

/** Applies the documented defaults; builds a new object, so the caller's options stay as given. */
export function resolveSettings<S>(options: FileStoreOptions<S>): FileStoreSettings<S> {
  const runsDirShown = options.runsDir ?? './runs';
  return {
    runsDir: resolve(runsDirShown),
    runsDirShown,
    stateDir: resolve(options.stateDir ?? './.stromboli'),
    apiVersion: options.apiVersion ?? 'stromboli.dev/v1alpha1',
    kind: options.kind ?? 'AgentRun',
    defaultNamespace: options.defaultNamespace ?? 'default',
    maxFileBytes: options.maxFileBytes ?? 1024 * 1024,
    settleMs: options.settleMs ?? 200,
    compactAfterBytes: options.compactAfterBytes ?? 4 * 1024 * 1024,
    log: options.log ?? { warn: () => undefined, info: () => undefined, debug: () => undefined },
    parseStatus: options.parseStatus ?? trustStoredStatus,
  };
}

/** The default parseStatus: stateDir is written only by this store, from values of S. */
function trustStoredStatus<S>(value: unknown): S {
  return value as S;
}
