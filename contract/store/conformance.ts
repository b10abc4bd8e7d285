// The ResourceStore contract as one vitest suite, run against every store (memory, file, and the
// Kubernetes store of a later issue), so the fake cannot drift from the real thing.
// It uses only AgentRun-shaped fields (spec.prompt, spec.priority, spec.cancel, status.phase,
// status.message, status.observedGeneration) so a store backed by the AgentRun CRD prunes nothing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import type { NewResource, Resource, ResourceRef, ResourceStore, StoreEvent } from './store.ts';
import { refOf } from './store.ts';
import { registerPagingConformance } from './conformance-paging.ts';

/** The status type the suite writes; a subset of the AgentRun status. */
export interface ConformanceStatus {
  phase?: string;
  message?: string;
  observedGeneration?: number;
}

/** What a store's test file hands the suite for each test. */
export interface StoreUnderTest {
  store: ResourceStore<ConformanceStatus>;
  /** Namespace the suite creates its objects in. Default: 'default'. */
  namespace?: string;
  /** Releases what the factory acquired (watchers, temp directories, namespaces). Default: nothing to do. */
  close?: () => Promise<void>;
}

/** apiVersion of the objects the suite creates: the AgentRun one, so the CRD-backed store accepts them. */
export const CONFORMANCE_API_VERSION = 'stromboli.dev/v1alpha1';
/** kind of the objects the suite creates. */
export const CONFORMANCE_KIND = 'AgentRun';

const FINALIZER = 'stromboli.dev/conformance';

/**
 * Registers the contract tests for one store. `makeStore` runs before each test and gets a fresh
 * store; names are unique per test so a shared cluster namespace works too.
 */
export function describeStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest> | StoreUnderTest): void {
  describe(`ResourceStore conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ResourceStore<ConformanceStatus>;
    let namespace: string;
    let prefix: string;
    const controllers: AbortController[] = [];

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
      namespace = subject.namespace ?? 'default';
      prefix = `conf-${Math.random().toString(36).slice(2, 8)}-`;
    });

    afterEach(async () => {
      for (const controller of controllers.splice(0)) controller.abort();
      await subject.close?.();
    });

    function newRun(name: string, extra: Partial<NewResource['metadata']> = {}): NewResource {
      return {
        apiVersion: CONFORMANCE_API_VERSION,
        kind: CONFORMANCE_KIND,
        metadata: { name: prefix + name, namespace, ...extra },
        spec: { prompt: `say ${name}`, priority: 1 },
      };
    }

    function ref(name: string): ResourceRef {
      return { namespace, name: prefix + name };
    }

    /** Starts a consumer that records this test's events (other objects in the namespace are ignored). */
    function record(): { events: StoreEvent<ConformanceStatus>[]; summary: () => string[]; controller: AbortController } {
      const controller = new AbortController();
      controllers.push(controller);
      const events: StoreEvent<ConformanceStatus>[] = [];
      void (async () => {
        for await (const event of store.watch(controller.signal)) {
          if (event.object.metadata.namespace === namespace && event.object.metadata.name.startsWith(prefix)) {
            events.push(event);
          }
        }
      })();
      const summary = (): string[] => events.map((e) => `${e.type} ${e.object.metadata.name.slice(prefix.length)}`);
      return { events, summary, controller };
    }

    async function rejection(promise: Promise<unknown>): Promise<string> {
      const err: unknown = await promise.then(
        () => undefined,
        (error: unknown) => error,
      );
      if (err === undefined) throw new Error('expected the call to fail');
      if (!isAppError(err)) throw new Error('expected an AppError', { cause: err });
      return err.code;
    }

    it('fills in uid, generation 1, a resourceVersion and a creation time on create', async () => {
      const created = await store.create(newRun('a', { labels: { team: 'x' } }));
      expect(created.metadata).toMatchObject({ name: prefix + 'a', namespace, generation: 1, labels: { team: 'x' } });
      expect(created.metadata.uid).not.toBe('');
      expect(created.metadata.resourceVersion).not.toBe('');
      expect(Number.isNaN(Date.parse(created.metadata.creationTimestamp))).toBe(false);
      expect(created.metadata.deletionTimestamp).toBeUndefined();
      expect(created.spec).toEqual({ prompt: 'say a', priority: 1 });
      expect(created.status).toBeUndefined();
      expect(await store.get(ref('a'))).toEqual(created);
    });

    it('refuses a second object with the same name with ALREADY_EXISTS', async () => {
      await store.create(newRun('a'));
      expect(await rejection(store.create(newRun('a')))).toBe('ALREADY_EXISTS');
    });

    it('refuses a name that is not a lowercase RFC 1123 subdomain', async () => {
      expect(await rejection(store.create(newRun('Not_Valid')))).toBe('VALIDATION');
    });

    it('appends a random suffix to generateName', async () => {
      const base = newRun('unused');
      const metadata = { namespace, generateName: `${prefix}gen-` };
      const first = await store.create({ ...base, metadata });
      const second = await store.create({ ...base, metadata });
      expect(first.metadata.name).toMatch(new RegExp(`^${prefix}gen-[a-z0-9]{5}$`));
      expect(second.metadata.name).not.toBe(first.metadata.name);
    });

    it('gives a re-created object a new uid', async () => {
      const first = await store.create(newRun('a'));
      await store.delete(ref('a'));
      const second = await store.create(newRun('a'));
      expect(second.metadata.uid).not.toBe(first.metadata.uid);
    });

    it('throws NOT_FOUND for a missing object on every method', async () => {
      const missing = ref('missing');
      expect(await rejection(store.get(missing))).toBe('NOT_FOUND');
      expect(await rejection(store.patchSpec(missing, { cancel: true }))).toBe('NOT_FOUND');
      expect(await rejection(store.updateStatus(missing, { phase: 'Running' }, '1'))).toBe('NOT_FOUND');
      expect(await rejection(store.setFinalizers(missing, [], '1'))).toBe('NOT_FOUND');
      expect(await rejection(store.delete(missing))).toBe('NOT_FOUND');
    });

    it('merges a spec patch (null deletes a key) and bumps generation and resourceVersion', async () => {
      const created = await store.create(newRun('a'));
      const patched = await store.patchSpec(ref('a'), { cancel: true, priority: null });
      expect(patched.spec).toEqual({ prompt: 'say a', cancel: true });
      expect(patched.metadata.generation).toBe(2);
      expect(patched.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
      expect(patched.metadata.uid).toBe(created.metadata.uid);
    });

    it('does not bump generation for a patch that leaves the spec unchanged', async () => {
      await store.create(newRun('a'));
      const patched = await store.patchSpec(ref('a'), { priority: 1 });
      expect(patched.metadata.generation).toBe(1);
    });

    it('rejects a spec patch carrying a stale resourceVersion with CONFLICT', async () => {
      const created = await store.create(newRun('a'));
      await store.patchSpec(ref('a'), { cancel: true }, created.metadata.resourceVersion);
      expect(await rejection(store.patchSpec(ref('a'), { priority: 2 }, created.metadata.resourceVersion))).toBe('CONFLICT');
      expect((await store.get(ref('a'))).spec).toEqual({ prompt: 'say a', priority: 1, cancel: true });
    });

    it('replaces the status without bumping generation', async () => {
      const created = await store.create(newRun('a'));
      const first = await store.updateStatus(ref('a'), { phase: 'Running', message: 'started' }, created.metadata.resourceVersion);
      const second = await store.updateStatus(ref('a'), { phase: 'Succeeded' }, first.metadata.resourceVersion);
      expect(second.status).toEqual({ phase: 'Succeeded' });
      expect(second.metadata.generation).toBe(1);
      expect(new Set([created, first, second].map((o) => o.metadata.resourceVersion)).size).toBe(3);
      expect((await store.get(ref('a'))).status).toEqual({ phase: 'Succeeded' });
    });

    it('lets exactly one of two writers holding the same resourceVersion win', async () => {
      const created = await store.create(newRun('a'));
      const rv = created.metadata.resourceVersion;
      const results = await Promise.allSettled([
        store.updateStatus(ref('a'), { phase: 'Running' }, rv),
        store.updateStatus(ref('a'), { phase: 'Failed' }, rv),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failed = results.find((r) => r.status === 'rejected');
      expect(failed !== undefined && isAppError(failed.reason) ? failed.reason.code : undefined).toBe('CONFLICT');
    });

    it('rejects status and finalizer writes carrying a stale resourceVersion with CONFLICT', async () => {
      const created = await store.create(newRun('a'));
      await store.updateStatus(ref('a'), { phase: 'Running' }, created.metadata.resourceVersion);
      const stale = created.metadata.resourceVersion;
      expect(await rejection(store.updateStatus(ref('a'), { phase: 'Failed' }, stale))).toBe('CONFLICT');
      expect(await rejection(store.setFinalizers(ref('a'), [FINALIZER], stale))).toBe('CONFLICT');
    });

    it('deletes an object without finalizers at once', async () => {
      await store.create(newRun('a'));
      await store.delete(ref('a'));
      expect(await rejection(store.get(ref('a')))).toBe('NOT_FOUND');
      expect((await store.list({ namespace })).map((o) => o.metadata.name)).not.toContain(prefix + 'a');
    });

    it('keeps an object with finalizers until the last one is removed', async () => {
      const created = await store.create(newRun('a'));
      const withFinalizer = await store.setFinalizers(ref('a'), [FINALIZER], created.metadata.resourceVersion);
      expect(withFinalizer?.metadata.finalizers).toEqual([FINALIZER]);
      await store.delete(ref('a'));
      const deleting = await store.get(ref('a'));
      expect(deleting.metadata.deletionTimestamp).toBeDefined();
      expect((await store.list({ namespace })).map((o) => o.metadata.name)).toContain(prefix + 'a');
      // A controller still writes the final status of an object being deleted.
      const final = await store.updateStatus(ref('a'), { phase: 'Cancelled' }, deleting.metadata.resourceVersion);
      await store.delete(ref('a')); // asking again changes nothing
      expect((await store.get(ref('a'))).metadata.resourceVersion).toBe(final.metadata.resourceVersion);
      expect(await store.setFinalizers(ref('a'), [], final.metadata.resourceVersion)).toBeUndefined();
      expect(await rejection(store.get(ref('a')))).toBe('NOT_FOUND');
    });

    it('refuses new finalizers on an object being deleted', async () => {
      const created = await store.create(newRun('a'));
      const held = await store.setFinalizers(ref('a'), [FINALIZER], created.metadata.resourceVersion);
      await store.delete(ref('a'));
      const deleting = await store.get(ref('a'));
      expect(held).toBeDefined();
      expect(await rejection(store.setFinalizers(ref('a'), [FINALIZER, 'stromboli.dev/other'], deleting.metadata.resourceVersion))).toBe('VALIDATION');
    });

    it('lists objects sorted by namespace then name, filtered by namespace and labels', async () => {
      await store.create(newRun('c', { labels: { team: 'x' } }));
      await store.create(newRun('a', { labels: { team: 'x', tier: 'gold' } }));
      await store.create(newRun('b', { labels: { team: 'y' } }));
      const names = async (labels?: Record<string, string>): Promise<string[]> =>
        (await store.list(labels === undefined ? { namespace } : { namespace, labels }))
          .map((o) => o.metadata.name)
          .filter((n) => n.startsWith(prefix))
          .map((n) => n.slice(prefix.length));
      expect(await names()).toEqual(['a', 'b', 'c']);
      expect(await names({ team: 'x' })).toEqual(['a', 'c']);
      expect(await names({ team: 'x', tier: 'gold' })).toEqual(['a']);
      expect(await store.list({ namespace: `${namespace}-nothing-here` })).toEqual([]);
    });

    registerPagingConformance(() => ({ store, namespace, prefix, newRun }));

    it('starts a watch with ADDED for existing objects, then delivers every later event in order', async () => {
      await store.create(newRun('a'));
      const watch = record();
      await expect.poll(watch.summary).toEqual(['ADDED a']);
      const b = await store.create(newRun('b'));
      const running = await store.updateStatus(ref('b'), { phase: 'Running' }, b.metadata.resourceVersion);
      await store.setFinalizers(ref('b'), [FINALIZER], running.metadata.resourceVersion);
      await store.delete(ref('b'));
      const deleting = await store.get(ref('b'));
      // As the API server does: asking for deletion bumps generation; removing the last finalizer
      // of an object being deleted deletes it with a DELETED event only (no MODIFIED first).
      expect(deleting.metadata.generation).toBe(2);
      await store.setFinalizers(ref('b'), [], deleting.metadata.resourceVersion);
      await store.delete(ref('a'));
      const expected = ['ADDED a', 'ADDED b', 'MODIFIED b', 'MODIFIED b', 'MODIFIED b', 'DELETED b', 'DELETED a'];
      await expect.poll(watch.summary).toEqual(expected);
      expect(watch.events[2]?.object.status).toEqual({ phase: 'Running' });
      expect(watch.events[4]?.object.metadata.deletionTimestamp).toBeDefined();
      const versions = watch.events.slice(1).map((e) => Number(e.object.metadata.resourceVersion));
      expect(new Set(versions).size).toBe(versions.length);
    });

    it('delivers the same events in the same order to every watcher', async () => {
      const first = record();
      const second = record();
      const a = await store.create(newRun('a'));
      await store.create(newRun('b'));
      await store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
      await store.delete(ref('b'));
      const expected = ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b'];
      await expect.poll(first.summary).toEqual(expected);
      await expect.poll(second.summary).toEqual(expected);
    });

    it('ends a watch when its signal aborts', async () => {
      const controller = new AbortController();
      const iterator = store.watch(controller.signal)[Symbol.asyncIterator]();
      const next = iterator.next();
      controller.abort();
      // Events of objects that existed before may come first; the iteration must then end.
      let result = await next;
      while (result.done !== true) result = await iterator.next();
      expect(result.done).toBe(true);
    });

    it('returns copies: mutating a returned object or event changes nothing in the store', async () => {
      const watch = record();
      const created = await store.create(newRun('a', { labels: { team: 'x' } }));
      created.metadata.labels = { team: 'changed' };
      created.metadata.resourceVersion = 'bogus';
      if (typeof created.spec === 'object' && created.spec !== null) Object.assign(created.spec, { prompt: 'changed' });
      await expect.poll(watch.summary).toEqual(['ADDED a']);
      const event = watch.events[0];
      if (event !== undefined) event.object.metadata.name = 'changed';
      const listed = await store.list({ namespace });
      const first = listed.find((o) => o.metadata.name === prefix + 'a');
      if (first !== undefined) first.metadata.finalizers = ['changed'];
      const fresh: Resource<ConformanceStatus> = await store.get(ref('a'));
      expect(fresh.metadata.labels).toEqual({ team: 'x' });
      expect(fresh.metadata.resourceVersion).not.toBe('bogus');
      expect(fresh.metadata.finalizers).toBeUndefined();
      expect(fresh.spec).toEqual({ prompt: 'say a', priority: 1 });
      expect(refOf(fresh)).toEqual(ref('a'));
    });
  });
}
