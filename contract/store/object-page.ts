// How the in-process stores (MemoryStore, FileStore) page their lists: the objects in list()
// order (namespace, then name), a page of at most `limit` of them, and a continue token naming
// the last object listed. The next page starts after that name, whatever happened meanwhile, so
// an object that exists during the whole paging is listed exactly once; one created or deleted
// between two pages is listed or not depending on which side of the cursor it falls.

import { ValidationError } from '../errors.ts';
import { compareStrings, copyOf, matchesList } from './object-list.ts';
import type { PageOptions, Resource, ResourcePage, ResourceRef } from './store.ts';

/** Version of the token's content; a token of another version is refused, never misread. */
const TOKEN_VERSION = 1;

/** The order of list(): namespace, then name (code units). */
function compareRefs(a: ResourceRef, b: ResourceRef): number {
  return compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name);
}

/** The continue token of a page that ended with `last`: base64url of a small JSON, opaque to clients. */
export function encodeContinue(last: ResourceRef): string {
  return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, ns: last.namespace, name: last.name })).toString('base64url');
}

/** The last object of the page a token came from; ValidationError for anything this code did not issue. */
export function decodeContinue(token: string): ResourceRef {
  let value: unknown;
  try {
    value = /^[A-Za-z0-9_-]+$/.test(token) ? JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) : undefined;
  } catch {
    value = undefined;
  }
  if (typeof value === 'object' && value !== null && 'v' in value && value.v === TOKEN_VERSION && 'ns' in value && 'name' in value) {
    const { ns, name } = value;
    if (typeof ns === 'string' && typeof name === 'string') return { namespace: ns, name };
  }
  throw new ValidationError('the continue token is not valid: pass the metadata.continue of the previous page unchanged');
}

/** Checks a page's limit: undefined (no bound) or an integer >= 1. */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new ValidationError(`limit must be an integer >= 1, got ${String(limit)}`);
  }
}

/**
 * The keys of a store's map in list() order, sorted once and reused while the set of keys is the
 * same: a page costs one pass of Map lookups to confirm that, not a sort of every object. The
 * check needs no hook in the store's write path: the same size and every sorted key still present
 * means the same set.
 */
export class SortedKeys<T> {
  readonly #map: ReadonlyMap<string, T>;
  readonly #refOf: (value: T) => ResourceRef;
  #keys: string[] = [];
  #refs: ResourceRef[] = [];

  constructor(map: ReadonlyMap<string, T>, refOf: (value: T) => ResourceRef) {
    this.#map = map;
    this.#refOf = refOf;
  }

  /** The map's keys with their refs, in list() order. Valid until the map changes. */
  current(): { keys: readonly string[]; refs: readonly ResourceRef[] } {
    if (!this.#isCurrent()) {
      const entries = [...this.#map].map(([key, value]) => ({ key, ref: this.#refOf(value) }));
      entries.sort((a, b) => compareRefs(a.ref, b.ref));
      this.#keys = entries.map((e) => e.key);
      this.#refs = entries.map((e) => e.ref);
    }
    return { keys: this.#keys, refs: this.#refs };
  }

  #isCurrent(): boolean {
    if (this.#keys.length !== this.#map.size) return false;
    for (const key of this.#keys) if (!this.#map.has(key)) return false;
    return true;
  }
}

/** Index of the first ref in `refs` (sorted) that is after `ref`. */
function firstAfter(refs: readonly ResourceRef[], ref: ResourceRef): number {
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareRefs(refs[mid] as ResourceRef, ref) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first ref in `refs` (sorted) whose namespace is `namespace` or after it. */
function firstInNamespace(refs: readonly ResourceRef[], namespace: string, after: boolean): number {
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const order = compareStrings((refs[mid] as ResourceRef).namespace, namespace);
    if (order < 0 || (after && order === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One page of `objects` (a store's map, through its SortedKeys): see the file comment. Items are
 * copies. remainingItemCount is given when no label selector is asked (counting the rest is then
 * an index difference), as the Kubernetes API server does.
 */
export function pageOf<T, S>(
  objects: ReadonlyMap<string, T>,
  sorted: SortedKeys<T>,
  objectOf: (value: T) => Resource<S>,
  options: PageOptions,
): ResourcePage<S> {
  checkLimit(options.limit);
  const after = options.continue === undefined ? undefined : decodeContinue(options.continue);
  const { keys, refs } = sorted.current();
  const { namespace } = options;
  let start = after === undefined ? 0 : firstAfter(refs, after);
  let end = refs.length;
  if (namespace !== undefined) {
    start = Math.max(start, firstInNamespace(refs, namespace, false));
    end = firstInNamespace(refs, namespace, true);
  }
  const selective = Object.keys(options.labels ?? {}).length > 0;
  const limit = options.limit ?? Infinity;
  const items: Resource<S>[] = [];
  let i = start;
  for (; i < end && items.length < limit; i += 1) {
    const value = objects.get(keys[i] as string);
    if (value === undefined) continue;
    const object = objectOf(value);
    if (!selective || matchesList(object, options)) items.push(copyOf(object));
  }
  // More may follow when the page is full and objects remain; with a selector, look for one.
  let more = i < end;
  if (more && selective) {
    more = false;
    for (let j = i; j < end && !more; j += 1) {
      const value = objects.get(keys[j] as string);
      more = value !== undefined && matchesList(objectOf(value), options);
    }
  }
  const last = items.at(-1);
  if (!more || last === undefined) return { items };
  return {
    items,
    continue: encodeContinue({ namespace: last.metadata.namespace, name: last.metadata.name }),
    ...(selective ? {} : { remainingItemCount: end - i }),
  };
}
