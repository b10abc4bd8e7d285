// The file store's state directory on disk (docs/file-store.md, "On disk"): a snapshot of every
// record (state-snapshot.ts) and the journal of the changes since (state-journal.ts), replayed
// on open; the lock file and tmp/. A directory of the first format (legacy-state.ts) is migrated
// on open. Memory is the store's business; this file reads and writes those files.

import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConflictError } from '../../../../contract/errors.ts';
import { GroupCommit } from './group-commit.ts';
import type { ProblemReport } from './file-problems.ts';
import { issueText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import { hasLegacyState, readLegacyState, removeLegacyState } from './legacy-state.ts';
import { newResource, StringMapSchema, toRfc3339 } from '../../../../contract/store/object-rules.ts';
import { JournalAppender, journalName, listJournals, parseJson, readJournal, removeJournalsBefore } from './state-journal.ts';
import { readSnapshot, SNAPSHOT_FILE, writeSnapshot } from './state-snapshot.ts';
import type { ObjectMeta, Resource, ResourceRef } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/**
 * Names are no longer file names (the journal holds them), but they still name the run's folders
 * under stateDir/logs/; the limit stays where it was so a name valid for one version of the store
 * is valid for the next. Kubernetes allows 253.
 */
export const MAX_NAME_LENGTH = 250;

/** One resource as kept in memory, in the snapshot and in the journal's entries. */
export interface StoredRecord<S> {
  object: Resource<S>;
  /** Path relative to runsDir of the manifest that declares it; undefined for API-created runs. */
  manifest: string | undefined;
  /** Canonical hash of the manifest's spec when it was last applied; a change replaces the spec. */
  manifestSpecHash: string | undefined;
  /** The manifest file as last read, when it was clean: lets an open skip parsing it while its bytes are the same. */
  manifestFile: ManifestFileMark | undefined;
}

/**
 * What a record remembers of its manifest file, set only when the file read without a problem:
 * the sha256 of its bytes, its number of run documents, and this run's position among them. A
 * file whose bytes hash the same and whose runs are exactly its documents is not parsed again.
 */
export interface ManifestFileMark {
  hash: string;
  documents: number;
  document: number;
}

/** Creates stateDir (mode 0700); done before taking the lock, which lives in it. */
export async function createStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
}

/** The pid lock file of a state directory. */
export function stateLockPath(stateDir: string): string {
  return join(stateDir, 'lock.pid');
}

/**
 * A record for a run that is new to the store, from create() or from a manifest document (then
 * `manifest` names the file and the spec's hash). Its resourceVersion is set when it is saved.
 */
export function newRecord<S>(
  s: FileStoreSettings<S>,
  from: { namespace: string; name: string; labels: Record<string, string> | undefined; annotations: Record<string, string> | undefined; spec: unknown },
  manifest?: { rel: string; specHash: string; file: ManifestFileMark | undefined },
): StoredRecord<S> {
  const { namespace, name, labels, annotations, spec } = from;
  const object = newResource<S>({ apiVersion: s.apiVersion, kind: s.kind, namespace, name, labels, annotations, spec, resourceVersion: '', creationTimestamp: toRfc3339(new Date()) });
  return { object, manifest: manifest?.rel, manifestSpecHash: manifest?.specHash, manifestFile: manifest?.file };
}

/**
 * A change of one record for commit(): its new content, or its removal (with the resourceVersion
 * the removal took). `base` is the record it was built on: if that one's write failed, the change
 * is refused.
 */
export type StateChange<S> = ({ record: StoredRecord<S> } | { ref: ResourceRef; resourceVersion: string }) & { base: StoredRecord<S> | undefined };

/** A record as one line of the snapshot, and the body of a journal `put`. */
function recordBody<S>(record: StoredRecord<S>): StoredRecord<S> {
  return { manifest: record.manifest, manifestSpecHash: record.manifestSpecHash, manifestFile: record.manifestFile, object: record.object };
}

function recordLine<S>(record: StoredRecord<S>): string {
  return JSON.stringify(recordBody(record));
}

/** One journal line: `{"rv":17,"put":{record}}` or `{"rv":18,"delete":{"namespace":…,"name":…}}`. */
function changeLine<S>(change: StateChange<S>): string {
  if ('record' in change) return JSON.stringify({ rv: Number(change.record.object.metadata.resourceVersion), put: recordBody(change.record) });
  return JSON.stringify({ rv: Number(change.resourceVersion), delete: { namespace: change.ref.namespace, name: change.ref.name } });
}

/** A record as read back, before parseStatus: checked for shape, not yet for its status. */
type RecordBody = z.infer<typeof RecordBodySchema>;

/**
 * The records and the resourceVersion counter of one state directory. Writes go through
 * commit(), which groups them: one journal append and one fdatasync per group. When the journal
 * outgrows its bound, a new snapshot is written in the background and appends move on to the
 * next generation. The store decides what to write (and checks conflicts) itself.
 */
export class StateRecords<S> {
  readonly #s: FileStoreSettings<S>;
  readonly #problems: ProblemReport;
  #resourceVersion = 0;
  readonly #groups = new GroupCommit<StateChange<S>>((changes) => this.#flush(changes));
  /** Records whose write failed (or was refused): a change built on one of them is refused. */
  readonly #failed = new WeakSet<StoredRecord<S>>();
  /** Every record as the snapshot and the journal hold it: what the next snapshot is made of. */
  readonly #durable = new Map<string, StoredRecord<S>>();
  #journal: JournalAppender | undefined;
  #snapshotBytes = 0;
  /** Set while a group is being appended: a compaction starts only between groups. */
  #flushing: Promise<void> | undefined;
  #compaction: Promise<void> | undefined;
  #closed = false;

  constructor(settings: FileStoreSettings<S>, problems: ProblemReport) {
    this.#s = settings;
    this.#problems = problems;
  }

  /**
   * Empties tmp/, reads the snapshot, then replays the journal generations it names and those
   * after, in order. A torn last line (a crash mid-append: never acknowledged) is dropped; any
   * other unreadable line, and an unreadable snapshot, is reported and skipped. A directory of
   * the first format is migrated: a snapshot of it is written, then its files are removed.
   */
  async load(): Promise<Map<string, StoredRecord<S>>> {
    const s = this.#s;
    await rm(join(s.stateDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(s.stateDir, 'tmp'), { mode: 0o700 });
    const bodies = new Map<string, RecordBody>();
    const snapshot = readSnapshot(s.stateDir);
    let from = 1;
    if (snapshot.state === 'ok') {
      from = snapshot.header.journal;
      this.#resourceVersion = snapshot.header.resourceVersion;
      this.#snapshotBytes = snapshot.bytes;
      const path = join(s.stateDir, SNAPSHOT_FILE);
      for (const [index, line] of snapshot.lines.entries()) {
        const body = this.#parseBody(parseJson(line), path, `line ${index + 2}: `);
        if (body !== undefined) bodies.set(keyOf(body.object.metadata), body);
      }
    } else if (snapshot.state === 'unreadable') {
      const aside = `${SNAPSHOT_FILE}.unreadable-${Date.now()}`;
      await rm(join(s.stateDir, aside), { force: true });
      await rename(join(s.stateDir, SNAPSHOT_FILE), join(s.stateDir, aside)); // kept for a human: the next snapshot must not replace it
      this.#problems.addState(join(s.stateDir, SNAPSHOT_FILE), `unreadable snapshot (now ${join(s.stateDir, aside)}): ${snapshot.error}; the runs it held are lost, the journals were replayed`);
      from = 0;
    }
    const journals = listJournals(s.stateDir);
    if (snapshot.state === 'missing' && journals.length === 0 && hasLegacyState(s.stateDir)) return this.#migrate();
    if (snapshot.state === 'ok') await removeJournalsBefore(s.stateDir, from); // stale: the snapshot holds them (a crash came before their removal)
    let current = Math.max(from, 1);
    let found: { goodBytes: number; tornBytes: number } | undefined;
    for (const generation of journals.filter((g) => g >= from)) {
      current = generation;
      found = this.#replay(generation, bodies);
    }
    this.#journal = new JournalAppender(s.stateDir, current, found);
    for (const [key, body] of bodies) this.#durable.set(key, this.#toRecord(key, body));
    if (snapshot.state === 'ok' && hasLegacyState(s.stateDir)) await this.#removeMigrated(); // a migration's clean-up a crash interrupted
    return new Map(this.#durable);
  }

  /**
   * The next resourceVersion. Synchronous; on open the counter continues from the snapshot's and
   * every journal entry's, deletes included, so a restart never hands out an acknowledged one again.
   */
  nextResourceVersion(): string {
    this.#resourceVersion += 1;
    return String(this.#resourceVersion);
  }

  /**
   * Writes (a record) or erases (a ref) durably; resolves once it survives a crash. Changes that
   * arrive while a group is being written go out together in the next one (group commit). A
   * change built on a write that failed is refused, not written.
   */
  commit(change: StateChange<S>): Promise<void> {
    return this.#groups.submit(change);
  }

  /**
   * Writes a snapshot of every durable record now and moves appends to a new journal generation;
   * resolves once the snapshot is durable and the old generations are removed.
   */
  async compact(): Promise<void> {
    await this.#compaction;
    while (this.#flushing !== undefined) await this.#flushing;
    this.#startCompaction();
    await this.#compaction;
  }

  /** Resolves once every submitted change is on disk (or failed), and a compaction in progress ended. */
  async drain(): Promise<void> {
    await this.#groups.drain();
    await this.#compaction;
  }

  /** Drains, then closes the journal; no compaction starts after this. */
  async close(): Promise<void> {
    await this.drain();
    this.#closed = true;
    await this.#compaction;
    await this.#journal?.close();
  }

  /** Groups written so far; one append and one fdatasync each. */
  get flushes(): number {
    return this.#groups.flushes;
  }

  async #flush(changes: readonly StateChange<S>[]): Promise<(Error | undefined)[]> {
    let done = (): void => undefined;
    this.#flushing = new Promise<void>((resolve) => (done = resolve));
    try {
      const refused = changes.map((c) => {
        if (c.base === undefined || !this.#failed.has(c.base)) return undefined;
        if ('record' in c) this.#failed.add(c.record);
        return new ConflictError('the write this one builds on failed; read again');
      });
      try {
        await this.#write(changes, refused);
      } catch (err) {
        for (const c of changes) if ('record' in c) this.#failed.add(c.record);
        throw err;
      }
      return refused;
    } finally {
      this.#flushing = undefined;
      done();
      const journal = this.#journal;
      if (journal !== undefined && journal.size > Math.max(this.#s.compactAfterBytes, this.#snapshotBytes)) this.#startCompaction();
    }
  }

  async #write(changes: readonly StateChange<S>[], refused: readonly (Error | undefined)[]): Promise<void> {
    // The last change of each record wins: an earlier write of the same record in this group is never seen.
    const byKey = new Map<string, StateChange<S>>();
    for (const [index, change] of changes.entries()) {
      if (refused[index] !== undefined) continue;
      const key = keyOf('record' in change ? change.record.object.metadata : change.ref);
      byKey.delete(key); // keeps the journal in the order of the last writes
      byKey.set(key, change);
    }
    if (byKey.size === 0) return;
    const journal = this.#journal;
    if (journal === undefined) throw new Error('the state records are not loaded');
    let text = '';
    for (const change of byKey.values()) text += `${changeLine(change)}\n`;
    await journal.append(text);
    for (const [key, change] of byKey) {
      if ('record' in change) this.#durable.set(key, change.record);
      else this.#durable.delete(key);
    }
  }

  /**
   * Between two groups: takes the durable records as they are, moves appends to the next journal
   * generation, and writes the snapshot (naming that generation) in the background. A crash
   * before its rename leaves the old snapshot and every journal since it; after, the new
   * snapshot, which makes the older generations stale: nothing acknowledged is lost either way.
   */
  #startCompaction(): void {
    const old = this.#journal;
    if (this.#compaction !== undefined || this.#closed || old === undefined) return;
    const s = this.#s;
    const records = [...this.#durable.values()];
    const generation = old.generation + 1;
    const header = { format: 2 as const, journal: generation, resourceVersion: this.#resourceVersion };
    this.#journal = new JournalAppender(s.stateDir, generation);
    const started = performance.now();
    this.#compaction = (async () => {
      try {
        await old.close();
        this.#snapshotBytes = await writeSnapshot(s.stateDir, header, records, recordLine);
        await removeJournalsBefore(s.stateDir, generation);
        s.log.debug({ records: records.length, bytes: this.#snapshotBytes, journal: journalName(generation), durationMs: Math.round(performance.now() - started) }, 'state snapshot written');
      } catch (err) {
        // Nothing is lost: the old snapshot and every journal since it stay; the next bound crossed tries again.
        s.log.warn({ err }, 'state snapshot failed');
      } finally {
        this.#compaction = undefined;
      }
    })();
  }

  /** Applies one journal generation's entries to `bodies`; returns what its appender continues from. */
  #replay(generation: number, bodies: Map<string, RecordBody>): { goodBytes: number; tornBytes: number } {
    const path = join(this.#s.stateDir, journalName(generation));
    const read = readJournal(path);
    if (read.tornBytes > 0) this.#s.log.debug({ path, bytes: read.tornBytes }, 'torn journal tail dropped');
    for (const [index, line] of read.lines.entries()) {
      const value = parseJson(line);
      const where = `line ${index + 1}: `;
      const isDelete = typeof value === 'object' && value !== null && 'delete' in value;
      const entry = isDelete ? DeleteEntrySchema.safeParse(value) : PutEntrySchema.safeParse(value);
      if (!entry.success) {
        this.#problems.addState(path, `${where}unreadable journal entry (${issueText(entry.error)}); skipped`);
        continue;
      }
      this.#resourceVersion = Math.max(this.#resourceVersion, entry.data.rv);
      if ('delete' in entry.data) bodies.delete(keyOf(entry.data.delete));
      else bodies.set(keyOf(entry.data.put.object.metadata), entry.data.put);
    }
    return read;
  }

  /** Migrates a directory of the first format: same records and counter, written as a snapshot, then the old files removed. */
  async #migrate(): Promise<Map<string, StoredRecord<S>>> {
    const s = this.#s;
    const legacy = await readLegacyState(s.stateDir, this.#problems);
    const taken: string[] = [];
    for (const [key, { path, value }] of legacy.bodies) {
      const body = this.#parseBody(value, path, '');
      if (body === undefined) continue;
      this.#durable.set(key, this.#toRecord(key, body));
      taken.push(path);
    }
    this.#resourceVersion = Math.max(legacy.resourceVersionReserved, ...[...this.#durable.values()].map((r) => versionNumber(r.object.metadata.resourceVersion)));
    this.#snapshotBytes = await writeSnapshot(s.stateDir, { format: 2, journal: 1, resourceVersion: this.#resourceVersion }, [...this.#durable.values()], recordLine);
    this.#journal = new JournalAppender(s.stateDir, 1);
    await removeLegacyState(s.stateDir, taken);
    s.log.info({ records: this.#durable.size, stateDir: s.stateDir }, 'state directory migrated to the journal');
    return new Map(this.#durable);
  }

  /** Removes the first-format files whose records the snapshot holds (what a migration interrupted by a crash left). */
  async #removeMigrated(): Promise<void> {
    const legacy = await readLegacyState(this.#s.stateDir, this.#problems);
    const taken = [...legacy.bodies].filter(([key]) => this.#durable.has(key)).map(([, { path }]) => path);
    await removeLegacyState(this.#s.stateDir, taken);
  }

  #parseBody(value: unknown, path: string, where: string): RecordBody | undefined {
    const parsed = RecordBodySchema.safeParse(value);
    if (!parsed.success) {
      this.#problems.addState(path, `${where}unreadable state record (${issueText(parsed.error)}); ignored`);
      return undefined;
    }
    return parsed.data;
  }

  /** The record of a body read back: empty finalizers dropped, the status checked with parseStatus. */
  #toRecord(key: string, body: RecordBody): StoredRecord<S> {
    const { object, manifest, manifestSpecHash, manifestFile } = body;
    const metadata: ObjectMeta = { ...object.metadata };
    if (metadata.finalizers?.length === 0) delete metadata.finalizers;
    const result: Resource<S> = { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec };
    if (object.status !== undefined) {
      try {
        result.status = this.#s.parseStatus(object.status);
      } catch (err) {
        this.#s.log.warn({ err, agentRun: key }, 'stored status rejected; dropped');
      }
    }
    return { object: result, manifest, manifestSpecHash, manifestFile };
  }
}

function versionNumber(resourceVersion: string): number {
  const version = Number(resourceVersion);
  return Number.isSafeInteger(version) ? version : 0;
}

const ObjectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  generation: z.number().int().positive(),
  resourceVersion: z.string(),
  creationTimestamp: z.string(),
  deletionTimestamp: z.string().exactOptional(),
  finalizers: z.array(z.string()).exactOptional(),
  labels: StringMapSchema.exactOptional(),
  annotations: StringMapSchema.exactOptional(),
});

const RecordBodySchema = z.object({
  manifest: z.string().optional(),
  manifestSpecHash: z.string().optional(),
  manifestFile: z.object({ hash: z.string(), documents: z.number().int().positive(), document: z.number().int().positive() }).optional(),
  object: z.object({ apiVersion: z.string(), kind: z.string(), metadata: ObjectMetaSchema, spec: z.unknown().optional(), status: z.unknown().optional() }),
});

/** The two kinds of journal line. */
const PutEntrySchema = z.object({ rv: z.number().int().nonnegative(), put: RecordBodySchema });
const DeleteEntrySchema = z.object({ rv: z.number().int().nonnegative(), delete: z.object({ namespace: z.string(), name: z.string() }) });
