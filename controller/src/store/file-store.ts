// FileStore: the embedded ResourceStore. Users declare runs as YAML manifests in a watched
// directory (runsDir, never written); everything the store owns (uid, generation,
// resourceVersion, status, finalizers, spec patches, API-created runs) lives in a separate state
// directory, so our own writes never re-trigger the watch (KOPF's warning about handlers that
// write what they watch). The on-disk layout and the rules are in docs/file-store.md.

import { createHash, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { AppError, boundedMessage, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { ListOptions, NewResource, ObjectMeta, Resource, ResourceRef, ResourceStore, StoreEvent } from './store.ts';
import { keyOf } from './store.ts';

/** The slice of a pino logger the store needs, so this file does not depend on pino. */
export interface FileStoreLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

/** Options of FileStore.open(); every field is optional and the caller's object is never changed. */
export interface FileStoreOptions<S> {
  /** Directory of user manifests (*.yaml, *.yml), watched recursively, never written. Default: './runs'. */
  runsDir?: string;
  /** Directory the store owns: lock, state records, API-created runs. Default: './.stromboli'. */
  stateDir?: string;
  /** apiVersion of the documents that are runs; others are skipped. Default: 'stromboli.dev/v1alpha1'. */
  apiVersion?: string;
  /** kind of the documents that are runs; others are skipped. Default: 'AgentRun'. */
  kind?: string;
  /** Namespace of a manifest or create() without metadata.namespace. Default: 'default'. */
  defaultNamespace?: string;
  /** A manifest file larger than this is reported, not read. Default: 1 MiB (1_048_576). */
  maxFileBytes?: number;
  /** A changed file is read once the directory has been quiet this long (ms). Default: 200. */
  settleMs?: number;
  /** Where problems and changes are reported. Default: a logger that drops everything. */
  log?: FileStoreLogger;
  /** Checks a status read back from stateDir after a restart; a throw drops that status. Default: trusts it (only this store writes stateDir). */
  parseStatus?: (value: unknown) => S;
}

/** A manifest the store could not use; returned by problems() until the file is fixed. */
export interface FileProblem {
  /** The file as runsDir joined with its relative path (e.g. `runs/x.yaml`), or a state record's path. */
  path: string;
  /** 1-based document position in a multi-document file; absent when the whole file is the problem. */
  document?: number;
  error: string;
  /** Set for a document of another kind or apiVersion: ignored on purpose, listed so a typo shows. */
  skipped?: true;
}

const MANIFEST_FILE = /\.ya?ml$/i;
/** yaml's guard against alias bombs ("billion laughs"); the library default, stated here on purpose. */
const MAX_ALIAS_COUNT = 100;
/** A document whose value, aliases expanded, is over this many times maxFileBytes is refused. */
const EXPANSION_FACTOR = 4;
/** `<name>.json` must fit in a 255-byte file name, so names are shorter than Kubernetes' 253. */
const MAX_NAME_LENGTH = 250;
/** resourceVersions are reserved on disk in blocks, so a restart never hands out one twice. */
const RESOURCE_VERSION_BLOCK = 1000;
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_LABEL_ONLY = new RegExp(`^${DNS_LABEL}$`);

interface Settings<S> {
  runsDir: string;
  runsDirShown: string;
  stateDir: string;
  apiVersion: string;
  kind: string;
  defaultNamespace: string;
  maxFileBytes: number;
  settleMs: number;
  log: FileStoreLogger;
  parseStatus: (value: unknown) => S;
}

/** One resource as kept in memory and in stateDir/resources/<namespace>/<name>.json. */
interface StoredRecord<S> {
  object: Resource<S>;
  /** Path relative to runsDir of the manifest that declares it; undefined for API-created runs. */
  manifest: string | undefined;
  /** Canonical hash of the manifest's spec when it was last applied; a change replaces the spec. */
  manifestSpecHash: string | undefined;
}

interface ManifestDoc {
  namespace: string;
  name: string;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
  spec: unknown;
  specHash: string;
  document: number;
}

/**
 * The embedded store (`stromboli serve`): runs come from manifests in runsDir or from create(),
 * and survive restarts with the same uid and generation. Open with FileStore.open(), end with close().
 */
export class FileStore<S> implements ResourceStore<S> {
  readonly #s: Settings<S>;
  readonly #records = new Map<string, StoredRecord<S>>();
  /** Last good parse of each manifest file (relative path → key → document). */
  readonly #manifests = new Map<string, Map<string, ManifestDoc>>();
  /** Files that exist but cannot be read or parsed: their runs keep their last good spec. */
  readonly #brokenFiles = new Set<string>();
  readonly #fileProblems = new Map<string, FileProblem[]>();
  readonly #keyProblems = new Map<string, FileProblem[]>();
  readonly #stateProblems: FileProblem[] = [];
  readonly #watchers = new Set<Watcher<S>>();
  #queue: Promise<unknown> = Promise.resolve();
  #fsWatcher: FSWatcher | undefined;
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #batchStartedAt: number | undefined;
  #resourceVersion = 0;
  #resourceVersionReserved = 0;
  #closing: Promise<void> | undefined;

  private constructor(settings: Settings<S>) {
    this.#s = settings;
  }

  /** Takes the state directory's lock, loads the state, and reads runsDir before resolving. */
  static async open<S = unknown>(options: FileStoreOptions<S> = {}): Promise<FileStore<S>> {
    const settings = resolveSettings(options);
    await mkdir(join(settings.stateDir, 'resources'), { recursive: true, mode: 0o700 });
    await acquireLock(lockPath(settings.stateDir));
    const store = new FileStore<S>(settings);
    try {
      await rm(join(settings.stateDir, 'tmp'), { recursive: true, force: true });
      await mkdir(join(settings.stateDir, 'tmp'), { mode: 0o700 });
      await store.#loadState();
      await store.#startWatching();
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Manifests that are broken, skipped or shadowed, and unreadable state records; sorted by path. */
  problems(): FileProblem[] {
    const all = [...this.#stateProblems, ...[...this.#fileProblems.values()].flat(), ...[...this.#keyProblems.values()].flat()];
    return all.map((p) => ({ ...p })).sort((a, b) => compareStrings(a.path, b.path) || (a.document ?? 0) - (b.document ?? 0));
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    return [...this.#records.values()]
      .map((r) => r.object)
      .filter((o) => matchesList(o, options))
      .sort(compareObjects)
      .map((o) => structuredClone(o));
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    return structuredClone(this.#require(ref).object);
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    const initial = [...this.#records.values()]
      .map((r) => r.object)
      .sort(compareObjects)
      .map((object): StoreEvent<S> => ({ type: 'ADDED', object: structuredClone(object) }));
    return subscribe(this.#watchers, initial, this.#closing === undefined ? signal : AbortSignal.abort());
  }

  async create(object: NewResource): Promise<Resource<S>> {
    return this.#exclusive(async () => {
      const s = this.#s;
      if (object.apiVersion !== s.apiVersion || object.kind !== s.kind) {
        throw new ValidationError(`this store holds ${s.kind} ${s.apiVersion}, not ${object.kind} ${object.apiVersion}`);
      }
      const namespace = object.metadata.namespace ?? s.defaultNamespace;
      const name = object.metadata.name ?? this.#generateName(namespace, object.metadata.generateName);
      const invalid = refProblem({ namespace, name });
      if (invalid !== undefined) throw new ValidationError(invalid);
      if (this.#records.has(keyOf({ namespace, name }))) {
        throw new AppError('ALREADY_EXISTS', `${namespace}/${name} already exists`, { details: { namespace, name } });
      }
      const { labels, annotations } = object.metadata;
      const record: StoredRecord<S> = {
        object: newObject(s, { namespace, name, labels, annotations, spec: structuredClone(object.spec) }),
        manifest: undefined,
        manifestSpecHash: undefined,
      };
      return this.#save(record, 'ADDED');
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
      const meta = current.object.metadata;
      const added = finalizers.filter((f) => !(meta.finalizers ?? []).includes(f));
      if (meta.deletionTimestamp !== undefined && added.length > 0) {
        throw new ValidationError(`no new finalizers can be added while ${keyOf(ref)} is being deleted: ${added.join(', ')}`);
      }
      const next = structuredClone(current);
      if (finalizers.length === 0) delete next.object.metadata.finalizers;
      else next.object.metadata.finalizers = [...finalizers];
      const saved = await this.#save(next, 'MODIFIED');
      if (meta.deletionTimestamp === undefined || finalizers.length > 0) return saved;
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
      for (const watcher of [...this.#watchers]) endWatcher(this.#watchers, watcher);
      await releaseLock(lockPath(this.#s.stateDir));
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
    const record = this.#records.get(keyOf(ref));
    if (record === undefined) throw new NotFoundError(`${keyOf(ref)} not found`);
    const current = record.object.metadata.resourceVersion;
    if (resourceVersion !== undefined && resourceVersion !== current) {
      throw new ConflictError(`${keyOf(ref)} has resourceVersion ${current}, the write carried ${resourceVersion}`);
    }
    return record;
  }

  /** Persists then publishes; memory changes only once the record is durably on disk. */
  async #save(record: StoredRecord<S>, event: 'ADDED' | 'MODIFIED' | undefined): Promise<Resource<S>> {
    if (event !== undefined) record.object.metadata.resourceVersion = await this.#nextResourceVersion();
    const path = this.#recordPath(record.object.metadata);
    const body = { format: 1, manifest: record.manifest, manifestSpecHash: record.manifestSpecHash, object: record.object };
    await writeFileAtomic(path, `${JSON.stringify(body, null, 2)}\n`, join(this.#s.stateDir, 'tmp'));
    this.#records.set(keyOf(record.object.metadata), record);
    if (event !== undefined) publish(this.#watchers, { type: event, object: record.object });
    return structuredClone(record.object);
  }

  async #remove(record: StoredRecord<S>): Promise<void> {
    const key = keyOf(record.object.metadata);
    const gone = structuredClone(record.object);
    gone.metadata.resourceVersion = await this.#nextResourceVersion();
    const path = this.#recordPath(record.object.metadata);
    await rm(path, { force: true });
    await fsyncDirectory(dirname(path));
    this.#records.delete(key);
    publish(this.#watchers, { type: 'DELETED', object: gone });
    await this.#syncKey(key); // a manifest may have been waiting for this name
  }

  async #requestDeletion(record: StoredRecord<S>): Promise<void> {
    if ((record.object.metadata.finalizers ?? []).length === 0) return this.#remove(record);
    if (record.object.metadata.deletionTimestamp !== undefined) return;
    const next = structuredClone(record);
    next.object.metadata.deletionTimestamp = nowRfc3339();
    await this.#save(next, 'MODIFIED');
  }

  async #nextResourceVersion(): Promise<string> {
    this.#resourceVersion += 1;
    if (this.#resourceVersion > this.#resourceVersionReserved) {
      const reserved = this.#resourceVersion + RESOURCE_VERSION_BLOCK - 1;
      const body = `${JSON.stringify({ format: 1, resourceVersionReserved: reserved })}\n`;
      await writeFileAtomic(join(this.#s.stateDir, 'store.json'), body, join(this.#s.stateDir, 'tmp'));
      this.#resourceVersionReserved = reserved;
    }
    return String(this.#resourceVersion);
  }

  #recordPath(ref: ResourceRef): string {
    return join(this.#s.stateDir, 'resources', ref.namespace, `${ref.name}.json`);
  }

  #generateName(namespace: string, prefix: string | undefined): string {
    if (prefix === undefined || prefix === '') throw new ValidationError('metadata.name or metadata.generateName is required');
    for (;;) {
      const name = generatedName(prefix);
      if (!this.#records.has(keyOf({ namespace, name }))) return name;
    }
  }

  // ---- loading ----

  async #loadState(): Promise<void> {
    const s = this.#s;
    const storeFile = await readFile(join(s.stateDir, 'store.json'), 'utf8').catch(ifMissing(undefined));
    if (storeFile !== undefined) {
      const parsed = StoreFileSchema.safeParse(parseJson(storeFile));
      if (parsed.success) this.#resourceVersionReserved = parsed.data.resourceVersionReserved;
      else this.#stateProblem(join(s.stateDir, 'store.json'), 'unreadable; resourceVersions continue from the records');
    }
    const resources = join(s.stateDir, 'resources');
    for (const namespace of await readdir(resources, { withFileTypes: true })) {
      if (!namespace.isDirectory()) continue;
      for (const file of await readdir(join(resources, namespace.name), { withFileTypes: true })) {
        if (!file.isFile() || !file.name.endsWith('.json')) continue;
        const path = join(resources, namespace.name, file.name);
        const record = this.#parseRecord(await readFile(path, 'utf8'), path);
        if (record === undefined) continue;
        if (keyOf(record.object.metadata) !== `${namespace.name}/${file.name.slice(0, -'.json'.length)}`) {
          this.#stateProblem(path, 'the record names another object than its path; ignored');
          continue;
        }
        this.#records.set(keyOf(record.object.metadata), record);
        const version = Number(record.object.metadata.resourceVersion);
        if (Number.isSafeInteger(version)) this.#resourceVersion = Math.max(this.#resourceVersion, version);
      }
    }
    this.#resourceVersion = Math.max(this.#resourceVersion, this.#resourceVersionReserved);
    this.#resourceVersionReserved = this.#resourceVersion; // the next write reserves a fresh block
  }

  #parseRecord(text: string, path: string): StoredRecord<S> | undefined {
    const parsed = RecordFileSchema.safeParse(parseJson(text));
    if (!parsed.success) {
      this.#stateProblem(path, `unreadable state record (${issueText(parsed.error)}); ignored`);
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

  #stateProblem(path: string, error: string): void {
    this.#stateProblems.push({ path, error });
    this.#s.log.warn({ path, error }, 'state record problem');
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
        for (const rel of this.#knownManifests()) if (rel.startsWith(dir + sep)) this.#markDirty(rel);
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
    await this.#serially(() => this.#processFiles(initial));
  }

  #isIgnored(path: string, stats?: Stats): boolean {
    const rel = relative(this.#s.runsDir, path);
    if (rel === '' || rel.startsWith('..')) return false; // runsDir itself and its ancestors
    if (isInside(this.#s.stateDir, resolve(path))) return true;
    if (rel.split(sep).some((part) => part.startsWith('.'))) return true; // hidden files and folders
    return stats?.isFile() === true && !MANIFEST_FILE.test(path);
  }

  #knownManifests(): Set<string> {
    const known = new Set(this.#manifests.keys());
    for (const record of this.#records.values()) if (record.manifest !== undefined) known.add(record.manifest);
    return known;
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
      this.#serially(() => this.#processFiles(batch)).catch((err: unknown) => {
        this.#s.log.warn({ err }, 'manifest batch failed');
      });
    }, wait);
  }

  /** Reads every file of the batch first, then syncs each affected name: a rename is a move, not delete + create. */
  async #processFiles(rels: Iterable<string>): Promise<void> {
    const keys = new Set<string>();
    for (const rel of rels) {
      for (const key of this.#manifests.get(rel)?.keys() ?? []) keys.add(key);
      for (const [key, record] of this.#records) if (record.manifest === rel) keys.add(key);
      const shown = join(this.#s.runsDirShown, rel);
      const read = await readManifest(join(this.#s.runsDir, rel), shown, this.#s);
      if (read.state === 'missing') {
        this.#manifests.delete(rel);
        this.#brokenFiles.delete(rel);
        this.#setFileProblems(rel, []);
        continue;
      }
      if (read.state === 'broken') {
        this.#brokenFiles.add(rel); // its runs keep the last good spec until the file is fixed
        this.#setFileProblems(rel, [{ path: shown, error: read.error }]);
        continue;
      }
      this.#brokenFiles.delete(rel);
      this.#setFileProblems(rel, read.problems);
      const docs = new Map(read.docs.map((doc) => [keyOf(doc), doc]));
      this.#manifests.set(rel, docs);
      for (const key of docs.keys()) keys.add(key);
    }
    for (const key of [...keys].sort()) await this.#syncKey(key);
  }

  /** Makes one name match the manifests: create, update, hand over to another file, or delete. */
  async #syncKey(key: string): Promise<void> {
    const candidates = [...this.#manifests.entries()]
      .flatMap(([rel, docs]) => {
        const doc = docs.get(key);
        return doc === undefined ? [] : [{ rel, doc }];
      })
      .sort((a, b) => compareStrings(a.rel, b.rel));
    const record = this.#records.get(key);
    let owner: { rel: string; doc: ManifestDoc } | undefined;
    let reason: string;
    if (record !== undefined && record.manifest === undefined) {
      reason = 'already exists (created through the API)';
    } else if (record?.object.metadata.deletionTimestamp !== undefined) {
      reason = 'waits: the run of this name is being deleted and goes once its finalizers are removed';
    } else {
      const held = record?.manifest !== undefined && this.#brokenFiles.has(record.manifest) && !candidates.some((c) => c.rel === record.manifest);
      owner = held ? undefined : (candidates.find((c) => c.rel === record?.manifest) ?? candidates[0]);
      const winner = held ? record?.manifest : owner?.rel;
      reason = `is also declared in ${join(this.#s.runsDirShown, winner ?? '')}, which wins`;
      try {
        if (owner !== undefined) await this.#applyManifest(record, owner.rel, owner.doc);
        else if (record !== undefined && !held) await this.#requestDeletion(record);
      } catch (err) {
        // Never stops the other runs: the next change to the file retries.
        this.#s.log.warn({ err, agentRun: key }, 'manifest could not be applied');
        reason = `could not be applied: ${boundedMessage(err instanceof Error ? err.message : String(err))}`;
        owner = undefined;
      }
    }
    const problems = candidates
      .filter((c) => c !== owner)
      .map((c): FileProblem => ({ path: join(this.#s.runsDirShown, c.rel), document: c.doc.document, error: `${key} ${reason}` }));
    const before = JSON.stringify(this.#keyProblems.get(key) ?? []);
    if (problems.length === 0) this.#keyProblems.delete(key);
    else this.#keyProblems.set(key, problems);
    if (JSON.stringify(problems) !== before) for (const p of problems) this.#s.log.warn({ ...p }, 'manifest document not applied');
  }

  async #applyManifest(record: StoredRecord<S> | undefined, rel: string, doc: ManifestDoc): Promise<void> {
    if (record === undefined) {
      const object = newObject(this.#s, { ...doc, spec: structuredClone(doc.spec) });
      await this.#save({ object, manifest: rel, manifestSpecHash: doc.specHash }, 'ADDED');
      this.#s.log.info({ agentRun: keyOf(doc), path: join(this.#s.runsDirShown, rel) }, 'run added from manifest');
      return;
    }
    const next = structuredClone(record);
    let changed = false;
    if (doc.specHash !== record.manifestSpecHash) {
      // The file's spec changed: it replaces the stored spec, dropping any patch made through the API.
      if (canonicalJson(doc.spec) !== canonicalJson(record.object.spec)) {
        next.object.spec = structuredClone(doc.spec);
        next.object.metadata.generation += 1;
        changed = true;
      }
      next.manifestSpecHash = doc.specHash;
    }
    for (const field of ['labels', 'annotations'] as const) {
      if (canonicalJson(doc[field] ?? {}) === canonicalJson(record.object.metadata[field] ?? {})) continue;
      const value = doc[field];
      if (value === undefined) delete next.object.metadata[field];
      else next.object.metadata[field] = { ...value };
      changed = true;
    }
    next.manifest = rel;
    if (changed) await this.#save(next, 'MODIFIED');
    else if (next.manifest !== record.manifest || next.manifestSpecHash !== record.manifestSpecHash) await this.#save(next, undefined);
  }

  #setFileProblems(rel: string, problems: FileProblem[]): void {
    const before = JSON.stringify(this.#fileProblems.get(rel) ?? []);
    if (problems.length === 0) this.#fileProblems.delete(rel);
    else this.#fileProblems.set(rel, problems);
    if (JSON.stringify(problems) === before) return;
    for (const p of problems) {
      if (p.skipped === true) this.#s.log.info({ ...p }, 'manifest document skipped');
      else this.#s.log.warn({ ...p }, 'manifest problem');
    }
  }
}

// ---- options ----

function resolveSettings<S>(options: FileStoreOptions<S>): Settings<S> {
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
    log: options.log ?? { warn: () => undefined, info: () => undefined, debug: () => undefined },
    parseStatus: options.parseStatus ?? trustStoredStatus,
  };
}

/** The default parseStatus: stateDir is written only by this store, from values of S. */
function trustStoredStatus<S>(value: unknown): S {
  return value as S;
}

// ---- manifests ----

type ManifestRead =
  | { state: 'missing' }
  | { state: 'broken'; error: string }
  | { state: 'ok'; docs: ManifestDoc[]; problems: FileProblem[] };

async function readManifest<S>(path: string, shown: string, s: Settings<S>): Promise<ManifestRead> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) return { state: 'missing' };
      if (info.size > s.maxFileBytes) return { state: 'broken', error: `the file is ${info.size} bytes, over the ${s.maxFileBytes}-byte limit` };
      const buffer = Buffer.alloc(s.maxFileBytes + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > s.maxFileBytes) return { state: 'broken', error: `the file is over the ${s.maxFileBytes}-byte limit` };
      text = buffer.toString('utf8', 0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { state: 'missing' };
    return { state: 'broken', error: `cannot read the file: ${errorText(err)}` };
  }
  return parseManifest(text, shown, s);
}

function parseManifest<S>(text: string, path: string, s: Settings<S>): ManifestRead {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  for (const [index, document] of documents.entries()) {
    const syntax = document.errors[0];
    if (syntax !== undefined) return { state: 'broken', error: `YAML error in document ${index + 1}: ${boundedMessage(syntax.message)}` };
  }
  const docs: ManifestDoc[] = [];
  const problems: FileProblem[] = [];
  const seen = new Set<string>();
  for (const [index, document] of documents.entries()) {
    const number = index + 1;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return { state: 'broken', error: `document ${number} cannot be loaded: ${errorText(err)}` };
    }
    const limit = EXPANSION_FACTOR * s.maxFileBytes;
    if (exceedsSize(value, limit)) return { state: 'broken', error: `document ${number} expands to more than ${limit} bytes (aliases)` };
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
    const problem = (error: string): void => {
      problems.push({ path, document: number, error });
    };
    if (!isPlainObject(value)) {
      problem('the document is not a mapping');
      continue;
    }
    if (value['apiVersion'] !== s.apiVersion || value['kind'] !== s.kind) {
      problems.push({ path, document: number, skipped: true, error: `skipped: kind ${showValue(value['kind'])} apiVersion ${showValue(value['apiVersion'])} is not ${s.kind} ${s.apiVersion}` });
      continue;
    }
    const metadata = ManifestMetadataSchema.safeParse(value['metadata']);
    if (!metadata.success) {
      problem(isPlainObject(value['metadata']) ? issueText(metadata.error, 'metadata') : 'metadata is required (a mapping with a name)');
      continue;
    }
    const ref = { namespace: metadata.data.namespace ?? s.defaultNamespace, name: metadata.data.name };
    const invalid = refProblem(ref);
    if (invalid !== undefined) {
      problem(invalid);
      continue;
    }
    if (seen.has(keyOf(ref))) {
      problem(`${keyOf(ref)} is declared twice in this file; the first one wins`);
      continue;
    }
    seen.add(keyOf(ref));
    const spec: unknown = JSON.parse(JSON.stringify(value['spec'] ?? {}));
    docs.push({ ...ref, labels: metadata.data.labels, annotations: metadata.data.annotations, spec, specHash: hashOf(spec), document: number });
  }
  return { state: 'ok', docs, problems };
}

const StringMapSchema = z.record(z.string(), z.string());

const ManifestMetadataSchema = z.object({
  name: z.string({ error: 'required (a string)' }),
  namespace: z.string().exactOptional(),
  labels: StringMapSchema.exactOptional(),
  annotations: StringMapSchema.exactOptional(),
});

function refProblem(ref: ResourceRef): string | undefined {
  if (ref.name.length > MAX_NAME_LENGTH || !DNS_SUBDOMAIN.test(ref.name)) {
    return `metadata.name "${ref.name}" is not a lowercase RFC 1123 subdomain of at most ${MAX_NAME_LENGTH} characters`;
  }
  if (ref.namespace.length > 63 || !DNS_LABEL_ONLY.test(ref.namespace)) {
    return `metadata.namespace "${ref.namespace}" is not a lowercase RFC 1123 label of at most 63 characters`;
  }
  return undefined;
}

/** Walks the value as JSON would print it and stops as soon as it passes `limit` bytes. */
function exceedsSize(value: unknown, limit: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') size += item.length + 2;
    else if (Array.isArray(item)) {
      size += 2 + item.length;
      stack.push(...item);
    } else if (isPlainObject(item)) {
      for (const [key, child] of Object.entries(item)) {
        size += key.length + 4;
        stack.push(child);
      }
    } else size += 8;
    if (size > limit) return true;
  }
  return false;
}

// ---- state records ----

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

function newObject<S>(
  s: Settings<S>,
  from: { namespace: string; name: string; labels: Record<string, string> | undefined; annotations: Record<string, string> | undefined; spec: unknown },
): Resource<S> {
  return {
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: {
      name: from.name,
      namespace: from.namespace,
      uid: randomUUID(),
      generation: 1,
      resourceVersion: '',
      creationTimestamp: nowRfc3339(),
      ...(from.labels === undefined ? {} : { labels: { ...from.labels } }),
      ...(from.annotations === undefined ? {} : { annotations: { ...from.annotations } }),
    },
    spec: from.spec,
  };
}

// ---- durable files and the lock ----

/** Write a temp file, fsync it, rename it over the target, fsync the directory. */
async function writeFileAtomic(path: string, data: string, tmpDir: string): Promise<void> {
  const created = await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  if (created !== undefined) await fsyncDirectory(dirname(created));
  const tmp = join(tmpDir, `${randomUUID()}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDirectory(dirname(path));
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EISDIR') && !isErrno(err, 'EPERM')) throw err; // platforms that cannot fsync a directory
  } finally {
    await handle.close();
  }
}

function lockPath(stateDir: string): string {
  return join(stateDir, 'lock.pid');
}

/** A lock file that holds no pid is stale only once this old (ms): a starting holder may be writing it. */
const EMPTY_LOCK_GRACE_MS = 10_000;

async function acquireLock(path: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDirectory(dirname(path));
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const text = await readFile(path, 'utf8').catch(ifMissing(undefined));
    if (text === undefined) continue; // released meanwhile
    const pid = Number(text.trim());
    const hint = `stop that controller, or remove ${path} if it is not running`;
    if (Number.isSafeInteger(pid) && pid > 0) {
      if (isProcessAlive(pid)) {
        throw new AppError('UNAVAILABLE', `the state directory ${dirname(path)} is in use by process ${pid}: ${hint}`, { details: { lockFile: path, pid } });
      }
    } else {
      const info = await stat(path).catch(ifMissing(undefined));
      if (info !== undefined && Date.now() - info.mtimeMs < EMPTY_LOCK_GRACE_MS) {
        throw new AppError('UNAVAILABLE', `the state directory ${dirname(path)} is being locked by another process: ${hint}`, { details: { lockFile: path } });
      }
    }
    await rm(path, { force: true }); // stale: its process is gone; take it over
  }
  throw new AppError('UNAVAILABLE', `could not take the lock ${path}`, { details: { lockFile: path } });
}

async function releaseLock(path: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(ifMissing(undefined));
  if (text?.trim() === String(process.pid)) await rm(path, { force: true });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH'); // EPERM: alive, owned by someone else
  }
}

// ---- small pure helpers (memory-store.ts has the same Kubernetes rules) ----

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

function ifMissing<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if (isErrno(err, 'ENOENT')) return fallback;
    throw err;
  };
}

function errorText(err: unknown): string {
  return boundedMessage(err instanceof Error ? err.message : String(err));
}

function issueText(error: z.ZodError, prefix?: string): string {
  const at = (path: PropertyKey[]): string => [...(prefix === undefined ? [] : [prefix]), ...path.map(String)].join('.');
  return boundedMessage(error.issues.map((i) => (at(i.path) === '' ? i.message : `${at(i.path)}: ${i.message}`)).join('; '));
}

function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return value;
  } catch {
    return undefined;
  }
}

function showValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}

function isInside(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareObjects<S>(a: Resource<S>, b: Resource<S>): number {
  return compareStrings(a.metadata.namespace, b.metadata.namespace) || compareStrings(a.metadata.name, b.metadata.name);
}

function matchesList<S>(object: Resource<S>, options: ListOptions): boolean {
  if (options.namespace !== undefined && object.metadata.namespace !== options.namespace) return false;
  const labels = object.metadata.labels ?? {};
  return Object.entries(options.labels ?? {}).every(([key, value]) => labels[key] === value);
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function generatedName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += alphabet[Math.floor(Math.random() * alphabet.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = {};
  if (isPlainObject(target)) for (const [key, value] of Object.entries(target)) setOwn(result, key, structuredClone(value));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, applyMergePatch(result[key], value));
  }
  return result;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function hashOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

// ---- watch fan-out (the same small mechanism as memory-store.ts) ----

interface Watcher<S> {
  queue: StoreEvent<S>[];
  wake: (() => void) | undefined;
  done: boolean;
  signal: AbortSignal;
  onAbort: () => void;
}

function publish<S>(watchers: Set<Watcher<S>>, event: StoreEvent<S>): void {
  for (const watcher of watchers) {
    watcher.queue.push({ type: event.type, object: structuredClone(event.object) });
    watcher.wake?.();
  }
}

function endWatcher<S>(watchers: Set<Watcher<S>>, watcher: Watcher<S>): void {
  watcher.done = true;
  watchers.delete(watcher);
  watcher.signal.removeEventListener('abort', watcher.onAbort);
  watcher.wake?.();
}

function subscribe<S>(watchers: Set<Watcher<S>>, initial: StoreEvent<S>[], signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
  const watcher: Watcher<S> = { queue: initial, wake: undefined, done: signal.aborted, signal, onAbort: () => endWatcher(watchers, watcher) };
  if (!signal.aborted) {
    watchers.add(watcher);
    signal.addEventListener('abort', watcher.onAbort, { once: true });
  }
  const iterator: AsyncIterator<StoreEvent<S>> = {
    async next(): Promise<IteratorResult<StoreEvent<S>>> {
      for (;;) {
        if (watcher.done) return { done: true, value: undefined };
        const event = watcher.queue.shift();
        if (event !== undefined) return { done: false, value: event };
        await new Promise<void>((wake) => {
          watcher.wake = wake;
        });
        watcher.wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<StoreEvent<S>>> {
      endWatcher(watchers, watcher);
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
