// FileStore: the embedded ResourceStore. Users declare runs as YAML manifests in a watched
// directory (runsDir, never written); everything the store owns (uid, generation,
// resourceVersion, status, finalizers, spec patches, API-created runs) lives in a separate state
// directory, so our own writes never re-trigger the watch (KOPF's warning about handlers that
// write what they watch). The on-disk layout and the rules are in docs/file-store.md.
//
// This file holds the store itself (the API, the write path with its group commit, the watch of
// runsDir: the only chokidar import). Its parts: file-store-options.ts, manifest-file.ts (YAML),
// manifest-sync.ts, state-records.ts (with state-journal.ts, state-snapshot.ts, legacy-state.ts),
// atomic-write.ts, pid-lock.ts, file-problems.ts; the rules
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
import type { Unsettled } from './manifest-sync.ts';
import { ManifestSync } from './manifest-sync.ts';
import { applyMergePatch } from '../../../../contract/store/merge-patch.ts';
import { copyOf } from '../../../../contract/store/object-list.ts';
import { SortedKeys, pageOf } from '../../../../contract/store/object-page.ts';
import { alreadyExists, assertNoNewFinalizersWhileDeleting, assertValidRef, generateUniqueName, requireCurrent, setFinalizerList, toRfc3339 } from '../../../../contract/store/object-rules.ts';
import { acquireLock, releaseLock } from './pid-lock.ts';
import type { StoredRecord } from './state-records.ts';
import { createStateDir, MAX_NAME_LENGTH, newRecord, StateRecords, stateLockPath } from './state-records.ts';
import type { ListOptions, NewResource, PageOptions, Resource, ResourcePage, ResourceRef, ResourceStore, StoreEvent } from '../../../../contract/store/store.ts';
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
  /** What reads see: every record as it is durably on disk. */
  readonly #records = new Map<string, StoredRecord<S>>();
  /** #records' keys in list() order, for list() and listPage() (re-sorted only when the keys changed). */
  readonly #sorted = new SortedKeys<StoredRecord<S>>(this.#records, (record) => record.object.metadata);
  /** What writes build on and check against: #records plus the writes still on their way to disk. */
  readonly #latest = new Map<string, StoredRecord<S>>();
  readonly #problems: ProblemReport;
  readonly #state: StateRecords<S>;
  readonly #manifests: ManifestSync<S>;
  readonly #watchers = new WatchFanout<S>();
  /** Manifest batches, one at a time. API writes do not wait here: they check and queue at once. */
  #queue: Promise<unknown> = Promise.resolve();
  #fsWatcher: FSWatcher | undefined;
  readonly #dirty = new Set<string>();
  #readScheduled = false;
  readonly #unsettled: Unsettled = { files: [], keys: [] };
  #settleTimer: NodeJS.Timeout | undefined;
  #settleStartedAt: number | undefined;
  #closing: Promise<void> | undefined;

  private constructor(settings: FileStoreSettings<S>) {
    this.#s = settings;
    this.#problems = new ProblemReport(settings.log);
    this.#state = new StateRecords(settings, this.#problems);
    this.#manifests = new ManifestSync({
      settings,
      records: this.#latest,
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
      for (const [key, record] of await store.#state.load()) {
        store.#records.set(key, record);
        store.#latest.set(key, record);
      }
      await store.#startWatching();
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Manifests that are broken, skipped or shadowed, and unreadable snapshot or journal lines; sorted by path. */
  problems(): FileProblem[] {
    return this.#problems.all();
  }

  /** Rounds of durable writes so far (each one journal append and one fdatasync, however many writes it held). */
  get commits(): number {
    return this.#state.flushes;
  }

  /**
   * Writes a snapshot of every run now and starts a new journal generation (the store also does
   * this by itself once the journal outgrows compactAfterBytes). Writes go on meanwhile.
   */
  compact(): Promise<void> {
    this.#assertOpen();
    return this.#state.compact();
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    return pageOf<StoredRecord<S>, S>(this.#records, this.#sorted, objectOfRecord, options).items;
  }

  async listPage(options: PageOptions): Promise<ResourcePage<S>> {
    return pageOf<StoredRecord<S>, S>(this.#records, this.#sorted, objectOfRecord, options);
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    return copyOf(requireCurrent(ref, this.#records.get(keyOf(ref)), undefined, versionOf).object);
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    return this.#watchers.subscribe(objectsOf(this.#records.values()), this.#closing === undefined ? signal : AbortSignal.abort());
  }

  async create(object: NewResource): Promise<Resource<S>> {
    this.#assertOpen();
    const s = this.#s;
    if (object.apiVersion !== s.apiVersion || object.kind !== s.kind) {
      throw new ValidationError(`this store holds ${s.kind} ${s.apiVersion}, not ${object.kind} ${object.apiVersion}`);
    }
    const namespace = object.metadata.namespace ?? s.defaultNamespace;
    const name = object.metadata.name ?? generateUniqueName(object.metadata.generateName, (n) => this.#latest.has(keyOf({ namespace, name: n })));
    assertValidRef({ namespace, name }, MAX_NAME_LENGTH);
    if (this.#latest.has(keyOf({ namespace, name }))) throw alreadyExists({ namespace, name });
    const { labels, annotations } = object.metadata;
    return this.#save(newRecord(s, { namespace, name, labels, annotations, spec: copyOf(object.spec) }), 'ADDED');
  }

  async patchSpec(ref: ResourceRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<Resource<S>> {
    this.#assertOpen();
    const current = this.#require(ref, resourceVersion);
    // For a manifest's run this is the overlay: kept in stateDir until the file's spec changes.
    const spec = applyMergePatch(current.object.spec, patch);
    if (canonicalJson(spec) === canonicalJson(current.object.spec)) return copyOf(current.object);
    const next = copyOf(current);
    next.object.spec = spec;
    next.object.metadata.generation += 1;
    return this.#save(next, 'MODIFIED');
  }

  async updateStatus(ref: ResourceRef, status: S, resourceVersion: string): Promise<Resource<S>> {
    this.#assertOpen();
    const next = copyOf(this.#require(ref, resourceVersion));
    next.object.status = copyOf(status);
    return this.#save(next, 'MODIFIED');
  }

  async setFinalizers(ref: ResourceRef, finalizers: string[], resourceVersion: string): Promise<Resource<S> | undefined> {
    this.#assertOpen();
    const current = this.#require(ref, resourceVersion);
    assertNoNewFinalizersWhileDeleting(current.object, finalizers);
    if (current.object.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
      // The last finalizer of a run being deleted: it goes, with a DELETED event only (as in Kubernetes).
      await this.#remove(current);
      return undefined;
    }
    const next = copyOf(current);
    setFinalizerList(next.object, finalizers);
    return this.#save(next, 'MODIFIED');
  }

  async delete(ref: ResourceRef): Promise<void> {
    this.#assertOpen();
    const current = this.#require(ref);
    if (current.object.metadata.deletionTimestamp !== undefined) return;
    if (current.manifest !== undefined) {
      const file = join(this.#s.runsDirShown, current.manifest);
      throw new AppError('FORBIDDEN', `remove the file ${file} to delete this run`, { details: { file } });
    }
    await this.#requestDeletion(current);
  }

  /** Stops watching, waits for the writes in progress, ends every watch and releases the lock. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#settleTimer);
      await this.#fsWatcher?.close();
      await this.#queue.catch(() => undefined);
      await this.#state.close();
      this.#watchers.endAll();
      await releaseLock(stateLockPath(this.#s.stateDir));
    })();
    return this.#closing;
  }

  // ---- writes and persistence ----

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new AppError('UNAVAILABLE', 'the file store is closed');
  }

  /** Every manifest batch runs alone, so two reads of one file are applied in order. */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The newest state of `ref`, writes on their way included: conflicts are found when the call is made. */
  #require(ref: ResourceRef, resourceVersion?: string): StoredRecord<S> {
    return requireCurrent(ref, this.#latest.get(keyOf(ref)), resourceVersion, versionOf);
  }

  /**
   * Queues the record's write (the next write sees it at once), then, once it is durably on disk
   * with its group, changes memory and publishes: reads never see a write that could be lost.
   */
  #save(record: StoredRecord<S>, event: 'ADDED' | 'MODIFIED' | undefined): Promise<Resource<S>> {
    const key = keyOf(record.object.metadata);
    const base = this.#latest.get(key);
    if (event !== undefined) record.object.metadata.resourceVersion = this.#state.nextResourceVersion();
    this.#latest.set(key, record);
    return this.#state.commit({ record, base }).then(
      () => {
        this.#records.set(key, record);
        if (event !== undefined) this.#watchers.publish({ type: event, object: record.object });
        return copyOf(record.object);
      },
      (err: unknown) => {
        this.#restoreLatest(key, record);
        throw err;
      },
    );
  }

  async #remove(record: StoredRecord<S>): Promise<void> {
    const key = keyOf(record.object.metadata);
    const gone = copyOf(record.object);
    gone.metadata.resourceVersion = this.#state.nextResourceVersion();
    this.#latest.delete(key);
    try {
      await this.#state.commit({ ref: record.object.metadata, resourceVersion: gone.metadata.resourceVersion, base: record });
    } catch (err) {
      this.#restoreLatest(key, undefined);
      throw err;
    }
    this.#records.delete(key);
    this.#watchers.publish({ type: 'DELETED', object: gone });
    await this.#manifests.syncKey(key); // a manifest may have been waiting for this name
  }

  /** After a failed write: what writes build on goes back to the disk's state, unless a later write replaced it (that one fails too). */
  #restoreLatest(key: string, failed: StoredRecord<S> | undefined): void {
    if (this.#latest.get(key) !== failed) return;
    const durable = this.#records.get(key);
    if (durable === undefined) this.#latest.delete(key);
    else this.#latest.set(key, durable);
  }

  async #requestDeletion(record: StoredRecord<S>): Promise<void> {
    if ((record.object.metadata.finalizers ?? []).length === 0) return this.#remove(record);
    if (record.object.metadata.deletionTimestamp !== undefined) return;
    const next = copyOf(record);
    next.object.metadata.deletionTimestamp = toRfc3339(new Date());
    next.object.metadata.generation += 1; // as the API server does when it sets deletionTimestamp
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
    await this.#serially(() => this.#manifests.processFiles(initial, true));
  }

  #isIgnored(path: string, stats?: Stats): boolean {
    const rel = relative(this.#s.runsDir, path);
    if (rel === '' || rel.startsWith('..')) return false; // runsDir itself and its ancestors
    if (isInside(this.#s.stateDir, resolve(path))) return true;
    if (rel.split(sep).some((part) => part.startsWith('.'))) return true; // hidden files and folders
    return stats?.isFile() === true && !MANIFEST_FILE.test(path);
  }

  /**
   * A changed file is read at once (an atomic rename is complete when it appears), in a batch
   * with the changes of the same moment; a change that arrives while a batch is read goes into
   * the next one, so the last read of a file is never older than its last change.
   */
  #markDirty(rel: string): void {
    if (this.#closing !== undefined) return;
    this.#dirty.add(rel);
    if (this.#readScheduled) return;
    this.#readScheduled = true;
    setImmediate(() => {
      this.#readScheduled = false;
      const batch = [...this.#dirty];
      this.#dirty.clear();
      this.#s.log.debug({ files: batch.length }, 'manifest batch read');
      this.#serially(async () => this.#settleLater(await this.#manifests.processFiles(batch, false))).catch((err: unknown) => {
        this.#s.log.warn({ err }, 'manifest batch failed');
      });
    });
  }

  /**
   * What a batch could not settle (a file missing or broken: maybe half-written or half of a
   * rename; a name in two files) is processed again, confirmed, once runsDir has been quiet for
   * settleMs (at the latest 10 × settleMs after the first of them). Until then the runs keep
   * their last good spec and nothing is reported.
   */
  #settleLater(unsettled: Unsettled): void {
    if (this.#closing !== undefined || (unsettled.files.length === 0 && unsettled.keys.length === 0)) return;
    this.#unsettled.files.push(...unsettled.files);
    this.#unsettled.keys.push(...unsettled.keys);
    const now = Date.now();
    this.#settleStartedAt ??= now;
    clearTimeout(this.#settleTimer);
    const wait = Math.max(0, Math.min(this.#s.settleMs, this.#settleStartedAt + 10 * this.#s.settleMs - now));
    this.#settleTimer = setTimeout(() => {
      const files = this.#unsettled.files.splice(0);
      const keys = [...new Set(this.#unsettled.keys.splice(0))];
      this.#settleStartedAt = undefined;
      this.#settleTimer = undefined;
      this.#serially(async () => {
        await this.#manifests.processFiles(files, true);
        await Promise.all(keys.map((key) => this.#manifests.syncKey(key)));
      }).catch((err: unknown) => {
        this.#s.log.warn({ err }, 'manifest batch failed');
      });
    }, wait);
  }
}

function versionOf<S>(record: StoredRecord<S>): string {
  return record.object.metadata.resourceVersion;
}

function objectOfRecord<S>(record: StoredRecord<S>): Resource<S> {
  return record.object;
}

function* objectsOf<S>(records: Iterable<StoredRecord<S>>): Iterable<Resource<S>> {
  for (const record of records) yield record.object;
}

function isInside(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}
