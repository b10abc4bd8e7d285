// MemoryStore: the in-memory ResourceStore used by reconciler unit tests. It behaves like the
// Kubernetes API server where a controller can tell the difference (uid, generation only on spec
// changes, a global resourceVersion with conflicts on stale writes, generateName, finalizers,
// watch starting with ADDED), which controller-runtime's fake client admits it does not.

import { randomUUID } from 'node:crypto';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type {
  ListOptions,
  NewResource,
  Resource,
  ResourceRef,
  ResourceStore,
  StoreEvent,
} from './store.ts';
import { keyOf } from './store.ts';

/** Options of MemoryStore; every field is optional. */
export interface MemoryStoreOptions {
  /** Source of creationTimestamp and deletionTimestamp. Default: the system clock. */
  now?: () => Date;
  /** Namespace given to objects created without one. Default: 'default'. */
  defaultNamespace?: string;
}

/**
 * The fake store for unit tests: every write goes through the same checks the API server makes,
 * so a reconciler that forgets to re-read after a conflict fails here, not in a cluster.
 */
export class MemoryStore<S> implements ResourceStore<S> {
  readonly #objects = new Map<string, Resource<S>>();
  readonly #watchers = new Set<Watcher<S>>();
  readonly #now: () => Date;
  readonly #defaultNamespace: string;
  #resourceVersion = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#defaultNamespace = options.defaultNamespace ?? 'default';
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    return [...this.#objects.values()]
      .filter((object) => matchesList(object, options))
      .sort(compareObjects)
      .map((object) => structuredClone(object));
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    return structuredClone(this.#require(ref));
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    // Snapshot and subscription happen in the same synchronous step, so no write falls between.
    const initial = [...this.#objects.values()]
      .sort(compareObjects)
      .map((object): StoreEvent<S> => ({ type: 'ADDED', object: structuredClone(object) }));
    return subscribe(this.#watchers, initial, signal);
  }

  async create(object: NewResource): Promise<Resource<S>> {
    const namespace = object.metadata.namespace ?? this.#defaultNamespace;
    const name = object.metadata.name ?? this.#generateName(namespace, object.metadata.generateName);
    assertValidRef({ namespace, name });
    if (this.#objects.has(keyOf({ namespace, name }))) {
      throw new AppError('ALREADY_EXISTS', `${namespace}/${name} already exists`, { details: { namespace, name } });
    }
    const { labels, annotations } = object.metadata;
    const created: Resource<S> = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        generation: 1,
        resourceVersion: this.#nextResourceVersion(),
        creationTimestamp: toRfc3339(this.#now()),
        ...(labels === undefined ? {} : { labels: { ...labels } }),
        ...(annotations === undefined ? {} : { annotations: { ...annotations } }),
      },
      spec: structuredClone(object.spec),
    };
    return this.#commit(created, 'ADDED');
  }

  async patchSpec(ref: ResourceRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<Resource<S>> {
    const current = this.#require(ref, resourceVersion);
    const spec = applyMergePatch(current.spec, patch);
    if (canonicalJson(spec) === canonicalJson(current.spec)) {
      return structuredClone(current); // a no-op patch is not a write, as in Kubernetes
    }
    const next = structuredClone(current);
    next.spec = spec;
    next.metadata.generation += 1;
    return this.#commit(next, 'MODIFIED');
  }

  async updateStatus(ref: ResourceRef, status: S, resourceVersion: string): Promise<Resource<S>> {
    const next = structuredClone(this.#require(ref, resourceVersion));
    next.status = structuredClone(status);
    return this.#commit(next, 'MODIFIED');
  }

  async setFinalizers(ref: ResourceRef, finalizers: string[], resourceVersion: string): Promise<Resource<S> | undefined> {
    const current = this.#require(ref, resourceVersion);
    assertNoNewFinalizersWhileDeleting(current, finalizers);
    const next = structuredClone(current);
    setFinalizerList(next, finalizers);
    const committed = this.#commit(next, 'MODIFIED');
    if (next.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
      this.#remove(next);
      return undefined;
    }
    return committed;
  }

  async delete(ref: ResourceRef): Promise<void> {
    const current = this.#require(ref);
    if (current.metadata.deletionTimestamp !== undefined) return;
    if ((current.metadata.finalizers ?? []).length === 0) {
      this.#remove(current);
      return;
    }
    const next = structuredClone(current);
    next.metadata.deletionTimestamp = toRfc3339(this.#now());
    this.#commit(next, 'MODIFIED');
  }

  #require(ref: ResourceRef, resourceVersion?: string): Resource<S> {
    const object = this.#objects.get(keyOf(ref));
    if (object === undefined) throw new NotFoundError(`${keyOf(ref)} not found`);
    if (resourceVersion !== undefined && resourceVersion !== object.metadata.resourceVersion) {
      throw new ConflictError(
        `${keyOf(ref)} has resourceVersion ${object.metadata.resourceVersion}, the write carried ${resourceVersion}`,
      );
    }
    return object;
  }

  #commit(object: Resource<S>, type: 'ADDED' | 'MODIFIED'): Resource<S> {
    object.metadata.resourceVersion = this.#nextResourceVersion();
    this.#objects.set(keyOf(object.metadata), object);
    publish(this.#watchers, { type, object });
    return structuredClone(object);
  }

  #remove(object: Resource<S>): void {
    const gone = structuredClone(object);
    gone.metadata.resourceVersion = this.#nextResourceVersion();
    this.#objects.delete(keyOf(object.metadata));
    publish(this.#watchers, { type: 'DELETED', object: gone });
  }

  #nextResourceVersion(): string {
    this.#resourceVersion += 1;
    return String(this.#resourceVersion);
  }

  #generateName(namespace: string, prefix: string | undefined): string {
    if (prefix === undefined || prefix === '') {
      throw new ValidationError('metadata.name or metadata.generateName is required');
    }
    for (;;) {
      const name = generatedName(prefix);
      if (!this.#objects.has(keyOf({ namespace, name }))) return name;
    }
  }
}

// ---- Kubernetes object rules (the same rules are written out in file-store.ts) ----

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_LABEL_ONLY = new RegExp(`^${DNS_LABEL}$`);
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function assertValidRef(ref: ResourceRef): void {
  if (ref.name.length > 253 || !DNS_SUBDOMAIN.test(ref.name)) {
    throw new ValidationError(`metadata.name "${ref.name}" is not a lowercase RFC 1123 subdomain of at most 253 characters`);
  }
  if (ref.namespace.length > 63 || !DNS_LABEL_ONLY.test(ref.namespace)) {
    throw new ValidationError(`metadata.namespace "${ref.namespace}" is not a lowercase RFC 1123 label of at most 63 characters`);
  }
}

/** Kubernetes keeps at most 58 characters of generateName and appends 5 random ones. */
function generatedName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[Math.floor(Math.random() * SUFFIX_ALPHABET.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

function assertNoNewFinalizersWhileDeleting<S>(object: Resource<S>, finalizers: string[]): void {
  if (object.metadata.deletionTimestamp === undefined) return;
  const existing = new Set(object.metadata.finalizers ?? []);
  const added = finalizers.filter((f) => !existing.has(f));
  if (added.length > 0) {
    throw new ValidationError(`no new finalizers can be added while ${keyOf(object.metadata)} is being deleted: ${added.join(', ')}`);
  }
}

function setFinalizerList<S>(object: Resource<S>, finalizers: string[]): void {
  if (finalizers.length === 0) delete object.metadata.finalizers;
  else object.metadata.finalizers = [...finalizers];
}

function matchesList<S>(object: Resource<S>, options: ListOptions): boolean {
  if (options.namespace !== undefined && object.metadata.namespace !== options.namespace) return false;
  const labels = object.metadata.labels ?? {};
  return Object.entries(options.labels ?? {}).every(([key, value]) => labels[key] === value);
}

function compareObjects<S>(a: Resource<S>, b: Resource<S>): number {
  return compareStrings(a.metadata.namespace, b.metadata.namespace) || compareStrings(a.metadata.name, b.metadata.name);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Seconds precision, as the API server writes timestamps. */
function toRfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch: objects merge, null deletes a key, anything else replaces. */
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

/** Defines rather than assigns, so a key named "__proto__" stays data. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** JSON with object keys sorted, so equal specs compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---- watch fan-out (file-store.ts has the same small mechanism) ----

interface Watcher<S> {
  queue: StoreEvent<S>[];
  wake: (() => void) | undefined;
  done: boolean;
}

function publish<S>(watchers: Set<Watcher<S>>, event: StoreEvent<S>): void {
  for (const watcher of watchers) {
    // One copy per watcher: a consumer mutating its event cannot change what another one sees.
    watcher.queue.push({ type: event.type, object: structuredClone(event.object) });
    watcher.wake?.();
  }
}

function subscribe<S>(watchers: Set<Watcher<S>>, initial: StoreEvent<S>[], signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
  const watcher: Watcher<S> = { queue: initial, wake: undefined, done: false };
  const end = (): void => {
    watcher.done = true;
    watchers.delete(watcher);
    signal.removeEventListener('abort', end);
    watcher.wake?.();
  };
  if (signal.aborted) watcher.done = true;
  else {
    watchers.add(watcher);
    signal.addEventListener('abort', end, { once: true });
  }
  const iterator: AsyncIterator<StoreEvent<S>> = {
    async next(): Promise<IteratorResult<StoreEvent<S>>> {
      for (;;) {
        if (watcher.done) return { done: true, value: undefined };
        const event = watcher.queue.shift();
        if (event !== undefined) return { done: false, value: event };
        await new Promise<void>((resolve) => {
          watcher.wake = resolve;
        });
        watcher.wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<StoreEvent<S>>> {
      end();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
