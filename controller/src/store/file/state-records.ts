// The file store's state directory on disk (docs/file-store.md, "On disk"): one JSON record per
// run under resources/, store.json with the reserved resourceVersions, the lock file and tmp/.
// Memory is the store's business; this file only reads and writes those files.

import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConflictError } from '../../../../contract/errors.ts';
import type { FileChange } from './atomic-write.ts';
import { applyChangesDurably } from './atomic-write.ts';
import { GroupCommit } from './group-commit.ts';
import type { ProblemReport } from './file-problems.ts';
import { issueText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import { ifMissing } from './fs-errors.ts';
import { newResource, StringMapSchema, toRfc3339 } from '../../../../contract/store/object-rules.ts';
import type { ObjectMeta, Resource, ResourceRef } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** `<name>.json` must fit in a 255-byte file name, so names are shorter than Kubernetes' 253. */
export const MAX_NAME_LENGTH = 250;
/** resourceVersions are reserved on disk in blocks, so a restart never hands out one twice. */
const RESOURCE_VERSION_BLOCK = 1000;

/** One resource as kept in memory and in stateDir/resources/<namespace>/<name>.json. */
export interface StoredRecord<S> {
  object: Resource<S>;
  /** Path relative to runsDir of the manifest that declares it; undefined for API-created runs. */
  manifest: string | undefined;
  /** Canonical hash of the manifest's spec when it was last applied; a change replaces the spec. */
  manifestSpecHash: string | undefined;
}

/** Creates stateDir (mode 0700) with its resources/ folder; done before taking the lock, which lives in it. */
export async function createStateDir(stateDir: string): Promise<void> {
  await mkdir(join(stateDir, 'resources'), { recursive: true, mode: 0o700 });
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
  manifest?: { rel: string; specHash: string },
): StoredRecord<S> {
  const { namespace, name, labels, annotations, spec } = from;
  const object = newResource<S>({ apiVersion: s.apiVersion, kind: s.kind, namespace, name, labels, annotations, spec, resourceVersion: '', creationTimestamp: toRfc3339(new Date()) });
  return { object, manifest: manifest?.rel, manifestSpecHash: manifest?.specHash };
}

/**
 * A change of one record for commit(): its new content, or its removal. `valid` is asked when
 * the change's group starts; false (the write it was built on failed) refuses it.
 */
export type StateChange<S> = ({ record: StoredRecord<S> } | { ref: ResourceRef }) & { base: StoredRecord<S> | undefined };

/** A record file's content, as docs/file-store.md shows it. */
function recordText<S>(record: StoredRecord<S>): string {
  const body = { format: 1, manifest: record.manifest, manifestSpecHash: record.manifestSpecHash, object: record.object };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * The records and the resourceVersion counter of one state directory. Writes go through
 * commit(), which groups them; the store decides what to write (and checks conflicts) itself.
 */
export class StateRecords<S> {
  readonly #s: FileStoreSettings<S>;
  readonly #problems: ProblemReport;
  #resourceVersion = 0;
  #resourceVersionReserved = 0;
  readonly #groups = new GroupCommit<StateChange<S>>((changes) => this.#flush(changes));
  /** Records whose write failed (or was refused): a change built on one of them is refused. */
  readonly #failed = new WeakSet<StoredRecord<S>>();

  constructor(settings: FileStoreSettings<S>, problems: ProblemReport) {
    this.#s = settings;
    this.#problems = problems;
  }

  /**
   * Empties tmp/, then reads store.json and every record (by key). An unreadable file is
   * reported and skipped; a status that parseStatus rejects is dropped with a warning.
   */
  async load(): Promise<Map<string, StoredRecord<S>>> {
    const s = this.#s;
    await rm(join(s.stateDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(s.stateDir, 'tmp'), { mode: 0o700 });
    const records = new Map<string, StoredRecord<S>>();
    const storeFile = await readFile(join(s.stateDir, 'store.json'), 'utf8').catch(ifMissing(undefined));
    if (storeFile !== undefined) {
      const parsed = StoreFileSchema.safeParse(parseJson(storeFile));
      if (parsed.success) this.#resourceVersionReserved = parsed.data.resourceVersionReserved;
      else this.#problems.addState(join(s.stateDir, 'store.json'), 'unreadable; resourceVersions continue from the records');
    }
    const resources = join(s.stateDir, 'resources');
    const files: { namespace: string; name: string }[] = [];
    for (const namespace of await readdir(resources, { withFileTypes: true })) {
      if (!namespace.isDirectory()) continue;
      for (const file of await readdir(join(resources, namespace.name), { withFileTypes: true })) {
        if (file.isFile() && file.name.endsWith('.json')) files.push({ namespace: namespace.name, name: file.name });
      }
    }
    // Read synchronously, like the manifests: on open nothing else waits, and ten thousand small
    // files read directly cost a fraction of ten thousand trips through libuv's thread pool.
    for (const file of files) {
      const path = join(resources, file.namespace, file.name);
      const record = this.#parseRecord(readFileSync(path, 'utf8'), path);
      if (record === undefined) continue;
      if (keyOf(record.object.metadata) !== `${file.namespace}/${file.name.slice(0, -'.json'.length)}`) {
        this.#problems.addState(path, 'the record names another object than its path; ignored');
        continue;
      }
      records.set(keyOf(record.object.metadata), record);
      const version = Number(record.object.metadata.resourceVersion);
      if (Number.isSafeInteger(version)) this.#resourceVersion = Math.max(this.#resourceVersion, version);
    }
    this.#resourceVersion = Math.max(this.#resourceVersion, this.#resourceVersionReserved);
    this.#resourceVersionReserved = this.#resourceVersion; // the next write reserves a fresh block
    return records;
  }

  /**
   * The next resourceVersion. Synchronous: the group that writes it first reserves a new block in
   * store.json when the current one is used up, before any write of the group is acknowledged.
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

  /** Resolves once every submitted change is on disk (or failed). */
  drain(): Promise<void> {
    return this.#groups.drain();
  }

  /** Groups written so far; one per round of fsyncs. */
  get flushes(): number {
    return this.#groups.flushes;
  }

  async #flush(changes: readonly StateChange<S>[]): Promise<(Error | undefined)[]> {
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
  }

  async #write(changes: readonly StateChange<S>[], refused: readonly (Error | undefined)[]): Promise<void> {
    // The last change of each path wins: an earlier write of the same record in this group is never seen.
    const byPath = new Map<string, FileChange>();
    for (const [index, change] of changes.entries()) {
      if (refused[index] !== undefined) continue;
      const path = this.#recordPath('record' in change ? change.record.object.metadata : change.ref);
      byPath.set(path, { path, data: 'record' in change ? recordText(change.record) : undefined });
    }
    if (this.#resourceVersion > this.#resourceVersionReserved) {
      const reserved = this.#resourceVersion + RESOURCE_VERSION_BLOCK;
      const path = join(this.#s.stateDir, 'store.json');
      byPath.set(path, { path, data: `${JSON.stringify({ format: 1, resourceVersionReserved: reserved })}\n` });
      await applyChangesDurably([...byPath.values()], join(this.#s.stateDir, 'tmp'));
      this.#resourceVersionReserved = reserved;
    } else {
      await applyChangesDurably([...byPath.values()], join(this.#s.stateDir, 'tmp'));
    }
  }

  #recordPath(ref: ResourceRef): string {
    return join(this.#s.stateDir, 'resources', ref.namespace, `${ref.name}.json`);
  }

  #parseRecord(text: string, path: string): StoredRecord<S> | undefined {
    const parsed = RecordFileSchema.safeParse(parseJson(text));
    if (!parsed.success) {
      this.#problems.addState(path, `unreadable state record (${issueText(parsed.error)}); ignored`);
      return undefined;
    }
    const { object, manifest, manifestSpecHash } = parsed.data;
    const metadata: ObjectMeta = { ...object.metadata };
    if (metadata.finalizers?.length === 0) delete metadata.finalizers;
    const result: Resource<S> = { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec };
    if (object.status !== undefined) {
      try {
        result.status = this.#s.parseStatus(object.status);
      } catch (err) {
        this.#s.log.warn({ err, path }, 'stored status rejected; dropped');
      }
    }
    return { object: result, manifest, manifestSpecHash };
  }
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

const RecordFileSchema = z.object({
  format: z.literal(1),
  manifest: z.string().optional(),
  manifestSpecHash: z.string().optional(),
  object: z.object({ apiVersion: z.string(), kind: z.string(), metadata: ObjectMetaSchema, spec: z.unknown().optional(), status: z.unknown().optional() }),
});

const StoreFileSchema = z.object({ format: z.literal(1), resourceVersionReserved: z.number().int().nonnegative() });

function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return value;
  } catch {
    return undefined;
  }
}
