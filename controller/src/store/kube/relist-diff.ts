// The pure core of the supervised informer: what to emit after a (re)list, and what a watch
// event changes. A relist after a broken watch emits only the difference with what the
// consumer has already seen, so it never misses a level (an object deleted while we were
// disconnected still gets its DELETED) and never sees an unchanged object twice.

import { compareObjects } from '../../../../contract/store/object-list.ts';
import type { Resource, StoreEvent } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** What the informer believes the consumer has seen: "namespace/name" → last object emitted. */
export type ObjectCache<S> = Map<string, Resource<S>>;

/**
 * The events that take a consumer from `cache` to `listed`, sorted namespace/name like list():
 * ADDED for a new object, MODIFIED for one with another resourceVersion, DELETED (with the
 * last object seen) for one that is gone, DELETED then ADDED for one re-created under the
 * same name (another uid). Updates `cache` to match `listed`.
 */
export function diffRelist<S>(cache: ObjectCache<S>, listed: readonly Resource<S>[]): StoreEvent<S>[] {
  const fresh = new Map<string, Resource<S>>();
  for (const object of listed) fresh.set(keyOf(object.metadata), object);
  const touched: { order: Resource<S>; events: StoreEvent<S>[] }[] = [];
  for (const [key, seen] of cache) {
    const now = fresh.get(key);
    if (now === undefined) touched.push({ order: seen, events: [{ type: 'DELETED', object: seen }] });
    else if (now.metadata.uid !== seen.metadata.uid) {
      touched.push({ order: now, events: [{ type: 'DELETED', object: seen }, { type: 'ADDED', object: now }] });
    } else if (now.metadata.resourceVersion !== seen.metadata.resourceVersion) {
      touched.push({ order: now, events: [{ type: 'MODIFIED', object: now }] });
    }
  }
  for (const [key, now] of fresh) {
    if (!cache.has(key)) touched.push({ order: now, events: [{ type: 'ADDED', object: now }] });
  }
  cache.clear();
  for (const [key, object] of fresh) cache.set(key, object);
  return touched.sort((a, b) => compareObjects(a.order, b.order)).flatMap((t) => t.events);
}

/**
 * What one watch event means for the consumer, given the cache: the events to emit (updating
 * the cache); none for one that changes nothing (a replay of what was already seen, a DELETED
 * of an object never seen). An ADDED of a known object is a MODIFIED to the consumer; an
 * object with a new uid under a known name is DELETED (the old one) then ADDED.
 */
export function applyWatchEvent<S>(cache: ObjectCache<S>, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Resource<S>): StoreEvent<S>[] {
  const key = keyOf(object.metadata);
  const seen = cache.get(key);
  if (type === 'DELETED') {
    if (seen === undefined) return [];
    cache.delete(key);
    return [{ type, object }];
  }
  cache.set(key, object);
  if (seen === undefined) return [{ type: 'ADDED', object }];
  if (seen.metadata.uid !== object.metadata.uid) return [{ type: 'DELETED', object: seen }, { type: 'ADDED', object }];
  if (seen.metadata.resourceVersion === object.metadata.resourceVersion) return [];
  return [{ type: 'MODIFIED', object }];
}
