// MemoryStore: the in-memory ResourceStore used by reconciler unit tests. It behaves like the
// Kubernetes API server where a controller can tell the difference (uid, generation only on spec
// changes, a global resourceVersion with conflicts on stale writes, generateName, finalizers,
// watch starting with ADDED), which controller-runtime's fake client admits it does not.
// The rules themselves are shared with FileStore (object-rules.ts, merge-patch.ts, watch-fanout.ts).

import type { ListOptions, NewResource, PageOptions, Resource, ResourcePage, ResourceRef, ResourceStore, StoreEvent } from './store.ts';
import { keyOf } from './store.ts';
import { canonicalJson } from './canonical-json.ts';
import { applyMergePatch } from './merge-patch.ts';
import { SortedKeys, pageOf } from './object-page.ts';
import {
  alreadyExists,
  assertNoNewFinalizersWhileDeleting,
  assertValidRef,
  generateUniqueName,
  newResource,
  requireCurrent,
  setFinalizerList,
  toRfc3339,
} from './object-rules.ts';
import { WatchFanout } from './watch-fanout.ts';

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
  readonly #sorted = new SortedKeys<Resource<S>>(this.#objects, (object) => object.metadata);
  readonly #watchers = new WatchFanout<S>();
  readonly #now: () => Date;
  readonly #defaultNamespace: string;
  #resourceVersion = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#defaultNamespace = options.defaultNamespace ?? 'default';
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    return pageOf<Resource<S>, S>(this.#objects, this.#sorted, (object) => object, options).items;
  }

  async listPage(options: PageOptions): Promise<ResourcePage<S>> {
    return pageOf<Resource<S>, S>(this.#objects, this.#sorted, (object) => object, options);
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    return structuredClone(this.#require(ref));
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    return this.#watchers.subscribe(this.#objects.values(), signal);
  }

  async create(object: NewResource): Promise<Resource<S>> {
    const namespace = object.metadata.namespace ?? this.#defaultNamespace;
    const name = object.metadata.name ?? generateUniqueName(object.metadata.generateName, (n) => this.#objects.has(keyOf({ namespace, name: n })));
    assertValidRef({ namespace, name });
    if (this.#objects.has(keyOf({ namespace, name }))) throw alreadyExists({ namespace, name });
    const { labels, annotations } = object.metadata;
    const created = newResource<S>({
      apiVersion: object.apiVersion,
      kind: object.kind,
      namespace,
      name,
      labels,
      annotations,
      spec: structuredClone(object.spec),
      resourceVersion: this.#nextResourceVersion(),
      creationTimestamp: toRfc3339(this.#now()),
    });
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
    if (current.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
      // The last finalizer of an object being deleted: it goes, with a DELETED event only.
      this.#remove(current);
      return undefined;
    }
    const next = structuredClone(current);
    setFinalizerList(next, finalizers);
    return this.#commit(next, 'MODIFIED');
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
    next.metadata.generation += 1; // as the API server does when it sets deletionTimestamp
    this.#commit(next, 'MODIFIED');
  }

  #require(ref: ResourceRef, resourceVersion?: string): Resource<S> {
    return requireCurrent(ref, this.#objects.get(keyOf(ref)), resourceVersion, (object) => object.metadata.resourceVersion);
  }

  #commit(object: Resource<S>, type: 'ADDED' | 'MODIFIED'): Resource<S> {
    object.metadata.resourceVersion = this.#nextResourceVersion();
    this.#objects.set(keyOf(object.metadata), object);
    this.#watchers.publish({ type, object });
    return structuredClone(object);
  }

  #remove(object: Resource<S>): void {
    const gone = structuredClone(object);
    gone.metadata.resourceVersion = this.#nextResourceVersion();
    this.#objects.delete(keyOf(object.metadata));
    this.#watchers.publish({ type: 'DELETED', object: gone });
  }

  #nextResourceVersion(): string {
    this.#resourceVersion += 1;
    return String(this.#resourceVersion);
  }
}
