// The state directory's first format (before the journal): one JSON record file per run under
// resources/<namespace>/<name>.json and store.json with the reserved resourceVersions. Read once
// to migrate a directory written by an older version (docs/file-store.md, "Migration"), then
// removed; nothing writes this format any more.

import type { Dirent } from 'node:fs';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ProblemReport } from './file-problems.ts';
import { ifMissing, isErrno } from './fs-errors.ts';
import { parseJson } from './state-journal.ts';
import { keyOf } from '../../../../contract/store/store.ts';

const StoreFileSchema = z.object({ format: z.literal(1), resourceVersionReserved: z.number().int().nonnegative() });

/** What the old files held: record bodies by key (unchecked: the caller parses them) and the counter to continue from. */
export interface LegacyState {
  bodies: Map<string, { path: string; value: unknown }>;
  /** The highest resourceVersion reserved in store.json: the old code continued from there after a restart. */
  resourceVersionReserved: number;
}

/** Whether `stateDir` holds files of the first format. */
export function hasLegacyState(stateDir: string): boolean {
  return readdirSync(stateDir).some((name) => name === 'store.json' || name === 'resources');
}

/** Reads store.json and every record file; what cannot be used is reported. `format` is checked here, the body by the caller. */
export async function readLegacyState(stateDir: string, problems: ProblemReport): Promise<LegacyState> {
  const state: LegacyState = { bodies: new Map(), resourceVersionReserved: 0 };
  const storeFile = await readFile(join(stateDir, 'store.json'), 'utf8').catch(ifMissing(undefined));
  if (storeFile !== undefined) {
    const parsed = StoreFileSchema.safeParse(parseJson(storeFile));
    if (parsed.success) state.resourceVersionReserved = parsed.data.resourceVersionReserved;
    else problems.addState(join(stateDir, 'store.json'), 'unreadable; resourceVersions continue from the records');
  }
  const resources = join(stateDir, 'resources');
  for (const namespace of readDir(resources)) {
    if (!namespace.isDirectory()) continue;
    for (const file of readDir(join(resources, namespace.name))) {
      if (!file.isFile() || !file.name.endsWith('.json')) continue;
      const path = join(resources, namespace.name, file.name);
      const value = parseJson(readFileSync(path, 'utf8'));
      if (!isFormat1(value)) {
        problems.addState(path, 'unreadable state record (not a record of format 1); ignored');
        continue;
      }
      const metadata = (value as { object?: { metadata?: { namespace?: unknown; name?: unknown } } }).object?.metadata;
      const expected = `${namespace.name}/${file.name.slice(0, -'.json'.length)}`;
      if (typeof metadata?.namespace !== 'string' || typeof metadata.name !== 'string' || keyOf({ namespace: metadata.namespace, name: metadata.name }) !== expected) {
        problems.addState(path, 'the record names another object than its path; ignored');
        continue;
      }
      state.bodies.set(expected, { path, value });
    }
  }
  return state;
}

/**
 * Removes what the migration took over (`files`: the records it read), then the folders left
 * empty, then store.json. A file it could not use stays (it was reported), and so does its folder.
 */
export async function removeLegacyState(stateDir: string, files: readonly string[]): Promise<void> {
  for (const file of files) await rm(file, { force: true });
  const resources = join(stateDir, 'resources');
  for (const namespace of readDir(resources)) if (namespace.isDirectory()) await rmdirIfEmpty(join(resources, namespace.name));
  await rmdirIfEmpty(resources);
  await rm(join(stateDir, 'store.json'), { force: true });
}

function readDir(path: string): Dirent[] {
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
}

async function rmdirIfEmpty(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (err) {
    if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST') && !isErrno(err, 'ENOENT')) throw err;
  }
}

function isFormat1(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === 1;
}
