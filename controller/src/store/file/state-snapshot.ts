// The file store's snapshot (docs/file-store.md, "On disk"): every record at one moment, as JSON
// lines after a header that names the journal generation following it. Written whole and
// atomically (temp file, fsync, rename, fsync of stateDir), so a crash leaves the old snapshot or
// the new one; read on open before the journal is replayed over it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { applyChangesDurably } from './atomic-write.ts';
import { isErrno } from './fs-errors.ts';
import { parseJson } from './state-journal.ts';

export const SNAPSHOT_FILE = 'snapshot.jsonl';
/** Lines serialised before the event loop gets a turn: a snapshot of 10,000 runs never blocks writes for long. */
const LINES_PER_TURN = 500;

const SnapshotHeaderSchema = z.object({
  format: z.literal(2),
  /** The first journal generation to replay over this snapshot; older ones are stale. */
  journal: z.number().int().positive(),
  /** The resourceVersion counter when it was taken: deletes leave no record behind, so it is kept here. */
  resourceVersion: z.number().int().nonnegative(),
  /** Number of record lines that follow. */
  records: z.number().int().nonnegative(),
});
export type SnapshotHeader = z.infer<typeof SnapshotHeaderSchema>;

/** A snapshot as found on open. */
export type SnapshotRead =
  | { state: 'missing' }
  | { state: 'unreadable'; error: string }
  | { state: 'ok'; header: SnapshotHeader; lines: string[]; bytes: number };

/** Reads stateDir's snapshot (synchronously: on open nothing else waits). */
export function readSnapshot(stateDir: string): SnapshotRead {
  let text: string;
  try {
    text = readFileSync(join(stateDir, SNAPSHOT_FILE), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { state: 'missing' };
    return { state: 'unreadable', error: err instanceof Error ? err.message : String(err) };
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = lines.shift() ?? '';
  const header = SnapshotHeaderSchema.safeParse(parseJson(first));
  if (!header.success) return { state: 'unreadable', error: 'its first line is not a snapshot header of format 2' };
  if (header.data.records !== lines.length) return { state: 'unreadable', error: `it holds ${lines.length} records where its header says ${header.data.records}` };
  return { state: 'ok', header: header.data, lines, bytes: Buffer.byteLength(text) };
}

/**
 * Writes a new snapshot of `records` (each already a JSON line) atomically through `tmp/`;
 * resolves with its size once it is durable. Yields to the event loop while it serialises.
 */
export async function writeSnapshot<T>(stateDir: string, header: Omit<SnapshotHeader, 'records'>, records: readonly T[], toLine: (record: T) => string): Promise<number> {
  const parts = [JSON.stringify({ ...header, records: records.length })];
  for (const [index, record] of records.entries()) {
    parts.push(toLine(record));
    if (index % LINES_PER_TURN === LINES_PER_TURN - 1) await new Promise(setImmediate);
  }
  const data = `${parts.join('\n')}\n`;
  await applyChangesDurably([{ path: join(stateDir, SNAPSHOT_FILE), data }], join(stateDir, 'tmp'));
  return Buffer.byteLength(data);
}
