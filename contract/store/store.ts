// The ResourceStore seam, shaped after the Kubernetes API so the file store (embedded mode),
// the Kubernetes store and the in-memory fake are interchangeable behind the reconciler.
// Domain-free: objects carry an unvalidated `spec` (the reconciler parses it and fails a bad
// one with a reason) and an opaque status type S.

/** Namespace + name: the identity of a resource, as in Kubernetes. */
export interface ResourceRef {
  namespace: string;
  name: string;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  /** Assigned by the store at creation; a delete + re-create gets a new one. */
  uid: string;
  /** Bumped by the store each time the spec changes (never for status writes). */
  generation: number;
  /** Opaque; changes on every write. Writes that carry one fail with ConflictError when stale. */
  resourceVersion: string;
  /** RFC 3339. */
  creationTimestamp: string;
  /** Set when deletion was asked while finalizers remain; the object goes when they are removed. */
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Resource<S> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  /** As declared by the user; not validated by the store. */
  spec: unknown;
  status?: S;
}

/** What a caller gives to create(): the store fills in uid, generation, resourceVersion and times. */
export interface NewResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    /** Used when name is absent: the store appends a random suffix, as Kubernetes does. */
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent<S> {
  type: WatchEventType;
  object: Resource<S>;
}

export interface ListOptions {
  namespace?: string;
  /** Equality-only selector: every key must have exactly this value. */
  labels?: Record<string, string>;
}

/**
 * One page of a list, Kubernetes style (`limit` and `continue`; kubernetes-conventions.md, list
 * chunking). The selector must be the same on every page of one list.
 */
export interface PageOptions extends ListOptions {
  /** At most this many objects (an integer >= 1). Default: no bound (the rest of the list). */
  limit?: number;
  /** The previous page's `continue`; absent for the first page. Opaque: only this store's tokens. */
  continue?: string;
}

/** What listPage() answers. */
export interface ResourcePage<S> {
  /**
   * Sorted by namespace then name, as list() is (the Kubernetes store keeps the API server's
   * order, its storage keys "namespace/name", which differs from list()'s only across two
   * namespaces where one is the other plus "-..."); each a copy the caller may change.
   */
  items: Resource<S>[];
  /** Present when more objects may follow: pass it as `continue` for the next page. */
  continue?: string;
  /** How many objects follow this page, when the store knows it cheaply (no label selector). */
  remainingItemCount?: number;
}

export interface ResourceStore<S> {
  /** Every object (including those being deleted), sorted by namespace then name. */
  list(options?: ListOptions): Promise<Resource<S>[]>;
  /**
   * One page of list(). An object that exists during the whole paging is listed exactly once;
   * one created or deleted meanwhile may or may not be. The Kubernetes store serves every page
   * at the first page's resourceVersion (a snapshot, whose token expires: AppError 'EXPIRED');
   * the in-process stores continue after the last name listed (their tokens never expire), so a
   * later page shows its objects as they are when it is read. A token this store did not issue
   * is a ValidationError; a limit that is not an integer >= 1 is a ValidationError too.
   */
  listPage(options: PageOptions): Promise<ResourcePage<S>>;
  /** Throws NotFoundError. */
  get(ref: ResourceRef): Promise<Resource<S>>;
  /**
   * Events from now on, starting with an ADDED for every existing object. Ends when `signal`
   * aborts. A store whose underlying watch breaks re-lists and goes on (consumers are
   * level-based, so a duplicate event is harmless, a lost one is not).
   */
  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>>;
  /** Throws AppError 'ALREADY_EXISTS' when the name is taken. */
  create(object: NewResource): Promise<Resource<S>>;
  /**
   * Merges `patch` into the spec (JSON merge patch semantics, null deletes a key) and bumps
   * generation. With `resourceVersion`, throws ConflictError when it is stale.
   */
  patchSpec(ref: ResourceRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<Resource<S>>;
  /** Replaces the status; never bumps generation. Throws ConflictError when `resourceVersion` is stale. */
  updateStatus(ref: ResourceRef, status: S, resourceVersion: string): Promise<Resource<S>>;
  /** Replaces the finalizers. Throws ConflictError when stale. Removing the last one of an object being deleted deletes it. */
  setFinalizers(ref: ResourceRef, finalizers: string[], resourceVersion: string): Promise<Resource<S> | undefined>;
  /**
   * Asks for deletion: immediate without finalizers, otherwise sets deletionTimestamp.
   * Throws NotFoundError; AppError 'FORBIDDEN' when the store cannot delete this object
   * (the file store does not delete a user's manifest: the user removes the file).
   */
  delete(ref: ResourceRef): Promise<void>;
}

export function refOf(object: { metadata: { namespace: string; name: string } }): ResourceRef {
  return { namespace: object.metadata.namespace, name: object.metadata.name };
}

/** "namespace/name": the work-queue key of a resource. */
export function keyOf(ref: ResourceRef): string {
  return `${ref.namespace}/${ref.name}`;
}

export function refFromKey(key: string): ResourceRef {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
