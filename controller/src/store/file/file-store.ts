// FileStore: the embedded ResourceStore. Users declare runs as YAML manifests in a watched
// directory (runsDir, never written); everything the store owns (uid, generation,
// resourceVersion, status, finalizers, spec patches, API-created runs) lives in a separate state
// directory, so our own writes never re-trigger the watch (KOPF's warning about handlers that
// write what they watch). The on-disk layout and the rules are in docs/file-store.md.
//
// This file holds the store itself (the API, the serial write queue, the watch of runsDir: the
// only chokidar import). Its parts: file-store-options.ts, manifest-file.ts (YAML),
// manifest-sync.ts, state-records.ts, atomic-write.ts, pid-lock.ts, file-problems.ts; the rules
// shared with MemoryStore are in object-rules.ts, object-list.ts, merge-patch.ts,
// canonical-json.ts and watch-fanout.ts.

import type { Stats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import { AppError, ValidationError } from '../../../../contract/errors.ts';
import { canonicalJson } from '../../../../contract/store/canonical-json.ts';
import type { FileProblem } from './file-problems.ts';
import { ProblemReport } from './file-problems.ts';
import type { FileStoreOptions, FileStoreSettings } from './file-store-options.ts';
import { resolveSettings } from './file-store-options.ts';
import { MANIFEST_FILE } from './manifest-file.ts';
import { ManifestSync } from './manifest-sync.ts';
import { applyMergePatch } from '../../../../contract/store/merge-patch.ts';
import { listCopies } from '../../../../contract/store/object-list.ts';
import { alreadyExists, assertNoNewFinalizersWhileDeleting, assertValidRef, generateUniqueName, requireCurrent, setFinalizerList, toRfc3339 } from '../../../../contract/store/object-rules.ts';
import { acquireLock, releaseLock } from './pid-lock.ts';
import type { StoredRecord } from './state-records.ts';
import { createStateDir, MAX_NAME_LENGTH, newRecord, StateRecords, stateLockPath } from './state-records.ts';
import type { ListOptions, NewResource, Resource, ResourceRef, ResourceStore, StoreEvent } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';
import { WatchFanout } from '../../../../contract/store/watch-fanout.ts';

// Re-exported so callers (embedded.ts, tests) keep importing the store's public types from here.
export type { FileProblem } from './file-problems.ts';
export type { FileStoreLogger, FileStoreOptions } from './file-store-options.ts';

/**
 * The embedded store (`stromboli serve`): runs come from manifests in runsDir or from create(),
 * and survive restarts with the same uid and generation. Open with FileStore.open(), end with close().
 */
export class FileStore<S> implements ResourceStore<S> {
  readonly #s: FileStoreSettings<S>;
  readonly #records = new Map<string, StoredRecord<S>>();
  readonly #problems: ProblemReport;
  readonly #state: StateRecords<S>;
  readonly #manifests: ManifestSync<S>;
  readonly #watchers = new WatchFanout<S>();
  #queue: Promise<unknown> = Promise.resolve();
  #fsWatcher: FSWatcher | undefined;
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #batchStartedAt: number | undefined;
  #closing: Promise<void> | undefined;

  private constructor(settings: FileStoreSettings<S>) {
    this.#s = settings;
    this.#problems = new ProblemReport(settings.log);
    this.#state = new StateRecords(settings, this.#problems);
    this.#manifests = new ManifestSync({
      settings,
      records: this.#records,
      problems: this.#problems,
      save: (record, event) => this.#save(record, event),
      requestDeletion: (record) => this.#requestDeletion(record),
    });
  }

  /** Takes the state directory's lock, loads the state, and reads runsDir before resolving. */
  static async open<S = unknown>(options: FileStoreOptions<S> = {}): Promise<FileStore<S>> {
    const settings = resolveSettings(options);
    await createStateDir(settings.stateDir);
    await acquireLock(stateLockPath(settings.stateDir));
    const store = new FileStore<S>(settings);
    try {
      for (const [key, record] of await store.#state.load()) store.#records.set(key, record);
      await store.#startWatching();
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Manifests that are broken, skipped or shadowed, and unreadable state records; sorted by path. */
  problems(): FileProblem[] {
    return this.#problems.all();
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    return listCopies([...this.#records.values()].map((r) => r.object), options);
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    return structuredClone(this.#require(ref).object);
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    const objects = [...this.#records.values()].map((r) => r.object);
    return this.#watchers.subscribe(objects, this.#closing === undefined ? signal : AbortSignal.abort());
  }

  async create(object: NewResource): Promise<Resource<S>> {
    return this.#exclusive(async () => {
      const s = this.#s;
      if (object.apiVersion !== s.apiVersion || object.kind !== s.kind) {
        throw new ValidationError(`this store holds ${s.kind} ${s.apiVersion}, not ${object.kind} ${object.apiVersion}`);
      }
      const namespace = object.metadata.namespace ?? s.defaultNamespace;
      const name = object.metadata.name ?? generateUniqueName(object.metadata.generateName, (n) => this.#records.has(keyOf({ namespace, name: n })));
      assertValidRef({ namespace, name }, MAX_NAME_LENGTH);
      if (this.#records.has(keyOf({ namespace, name }))) throw alreadyExists({ namespace, name });
      const { labels, annotations } = object.metadata;
      return this.#save(newRecord(s, { namespace, name, labels, annotations, spec: structuredClone(object.spec) }), 'ADDED');
    });
  }

  async patchSpec(ref: ResourceRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<Resource<S>> {
    return this.#exclusive(async () => {
      const current = this.#require(ref, resourceVersion);
      // For a manifest's run this is the overlay: kept in stateDir until the file's spec changes.
      const spec = applyMergePatch(current.object.spec, patch);
      if (canonicalJson(spec) === canonicalJson(current.object.spec)) return structuredClone(current.object);
      const next = structuredClone(current);
      next.object.spec = spec;
      next.object.metadata.generation += 1;
      return this.#save(next, 'MODIFIED');
    });
  }

  async updateStatus(ref: ResourceRef, status: S, resourceVersion: string): Promise<Resource<S>> {
    return this.#exclusive(async () => {
      const next = structuredClone(this.#require(ref, resourceVersion));
      next.object.status = structuredClone(status);
      return this.#save(next, 'MODIFIED');
    });
  }

  async setFinalizers(ref: ResourceRef, finalizers: string[], resourceVersion: string): Promise<Resource<S> | undefined> {
    return this.#exclusive(async () => {
      const current = this.#require(ref, resourceVersion);
      assertNoNewFinalizersWhileDeleting(current.object, finalizers);
      const next = structuredClone(current);
      setFinalizerList(next.object, finalizers);
      const saved = await this.#save(next, 'MODIFIED');
      if (current.object.metadata.deletionTimestamp === undefined || finalizers.length > 0) return saved;
      await this.#remove(next);
      return undefined;
    });
  }

  async delete(ref: ResourceRef): Promise<void> {
    await this.#exclusive(async () => {
      const current = this.#require(ref);
      if (current.object.metadata.deletionTimestamp !== undefined) return;
      if (current.manifest !== undefined) {
        const file = join(this.#s.runsDirShown, current.manifest);
        throw new AppError('FORBIDDEN', `remove the file ${file} to delete this run`, { details: { file } });
      }
      await this.#requestDeletion(current);
    });
  }

  /** Stops watching, waits for the write in progress, ends every watch and releases the lock. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      await this.#fsWatcher?.close();
      await this.#queue.catch(() => undefined);
      this.#watchers.endAll();
      await releaseLock(stateLockPath(this.#s.stateDir));
    })();
    return this.#closing;
  }

  // ---- serialisation and persistence ----

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(new AppError('UNAVAILABLE', 'the file store is closed'));
    return this.#serially(work);
  }

  /** Every change (API call or manifest batch) runs alone, so check-then-write is atomic. */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #require(ref: ResourceRef, resourceVersion?: string): StoredRecord<S> {
    return requireCurrent(ref, this.#records.get(keyOf(ref)), resourceVersion, (record) => record.object.metadata.resourceVersion);
  }

  /** Persists then publishes; memory changes only once the record is durably on disk. */
  async #save(record: StoredRecord<S>, event: 'ADDED' | 'MODIFIED' | undefined): Promise<Resource<S>> {
    if (event !== undefined) record.object.metadata.resourceVersion = await this.#state.nextResourceVersion();
    await this.#state.write(record);
    this.#records.set(keyOf(record.object.metadata), record);
    if (event !== undefined) this.#watchers.publish({ type: event, object: record.object });
    return structuredClone(record.object);
  }

  async #remove(record: StoredRecord<S>): Promise<void> {
    const key = keyOf(record.object.metadata);
    const gone = structuredClone(record.object);
    gone.metadata.resourceVersion = await this.#state.nextResourceVersion();
    await this.#state.erase(record.object.metadata);
    this.#records.delete(key);
    this.#watchers.publish({ type: 'DELETED', object: gone });
    await this.#manifests.syncKey(key); // a manifest may have been waiting for this name
  }

  async #requestDeletion(record: StoredRecord<S>): Promise<void> {
    if ((record.object.metadata.finalizers ?? []).length === 0) return this.#remove(record);
    if (record.object.metadata.deletionTimestamp !== undefined) return;
    const next = structuredClone(record);
    next.object.metadata.deletionTimestamp = toRfc3339(new Date());
    await this.#save(next, 'MODIFIED');
  }

  // ---- watching runsDir ----

  async #startWatching(): Promise<void> {
    const s = this.#s;
    await mkdir(s.runsDir, { recursive: true });
    const initial = new Set<string>();
    let ready = false;
    const watcher = watch(s.runsDir, { ignoreInitial: false, ignored: (path, stats) => this.#isIgnored(path, stats) });
    this.#fsWatcher = watcher;
    watcher.on('all', (event, path) => {
      if (event === 'unlinkDir' && ready) {
        const dir = relative(s.runsDir, path);
        for (const rel of this.#manifests.knownManifests()) if (rel.startsWith(dir + sep)) this.#markDirty(rel);
      }
      if ((event !== 'add' && event !== 'change' && event !== 'unlink') || !MANIFEST_FILE.test(path)) return;
      const rel = relative(s.runsDir, path);
      if (ready) this.#markDirty(rel);
      else initial.add(rel);
    });
    watcher.on('error', (err) => s.log.warn({ err, runsDir: s.runsDirShown }, 'runs directory watch failed'));
    await new Promise<void>((done) => watcher.once('ready', () => done()));
    ready = true;
    // Records whose manifest is gone (removed while we were down) are re-checked too.
    for (const record of this.#records.values()) if (record.manifest !== undefined) initial.add(record.manifest);
    await this.#serially(() => this.#manifests.processFiles(initial));
  }

  #isIgnored(path: string, stats?: Stats): boolean {
    const rel = relative(this.#s.runsDir, path);
    if (rel === '' || rel.startsWith('..')) return false; // runsDir itself and its ancestors
    if (isInside(this.#s.stateDir, resolve(path))) return true;
    if (rel.split(sep).some((part) => part.startsWith('.'))) return true; // hidden files and folders
    return stats?.isFile() === true && !MANIFEST_FILE.test(path);
  }

  /** Debounce: one batch once the directory has been quiet for settleMs (at most 10 × settleMs). */
  #markDirty(rel: string): void {
    if (this.#closing !== undefined) return;
    this.#dirty.add(rel);
    const now = Date.now();
    this.#batchStartedAt ??= now;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#s.settleMs, this.#batchStartedAt + 10 * this.#s.settleMs - now));
    this.#timer = setTimeout(() => {
      const batch = [...this.#dirty];
      this.#dirty.clear();
      this.#batchStartedAt = undefined;
      this.#timer = undefined;
      this.#s.log.debug({ files: batch.length }, 'manifest batch read');
      this.#serially(() => this.#manifests.processFiles(batch)).catch((err: unknown) => {
        this.#s.log.warn({ err }, 'manifest batch failed');
      });
    }, wait);
  }
}

function isInside(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}
