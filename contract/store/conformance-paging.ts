// The paging part of the ResourceStore contract (listPage: limit and continue), registered by
// describeStoreConformance inside its suite so every store is held to it. What the stores may
// differ in is left open on purpose: the Kubernetes store serves a snapshot (an object deleted
// after the first page is still listed, one created is not), the in-process stores continue
// after the last name listed; either way an object that exists throughout is listed exactly once.

import { expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import type { NewResource, PageOptions, Resource, ResourceStore } from './store.ts';

/** What the paging cases need of the suite's current test. */
export interface PagingSubject<S> {
  store: ResourceStore<S>;
  namespace: string;
  /** Prefix of this test's object names (unique per test). */
  prefix: string;
  newRun: (name: string, extra?: Partial<NewResource['metadata']>) => NewResource;
}

/** Every page of a list, with the pages' sizes and remainingItemCounts. */
async function allPages<S>(
  store: ResourceStore<S>,
  options: PageOptions,
): Promise<{ items: Resource<S>[]; sizes: number[]; remaining: (number | undefined)[] }> {
  const items: Resource<S>[] = [];
  const sizes: number[] = [];
  const remaining: (number | undefined)[] = [];
  let token: string | undefined;
  do {
    const page = await store.listPage({ ...options, ...(token === undefined ? {} : { continue: token }) });
    items.push(...page.items);
    sizes.push(page.items.length);
    remaining.push(page.remainingItemCount);
    token = page.continue;
    if (sizes.length > 1000) throw new Error('paging does not end');
  } while (token !== undefined);
  return { items, sizes, remaining };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err: unknown = await promise.then(() => undefined, (error: unknown) => error);
  if (err === undefined) throw new Error('expected the call to fail');
  if (!isAppError(err)) throw new Error('expected an AppError', { cause: err });
  return err.code;
}

/** Registers the paging cases; `current` gives the running test's subject. */
export function registerPagingConformance<S>(current: () => PagingSubject<S>): void {
  /** A label only this test's objects carry, so a shared namespace does not disturb the count. */
  const pageLabel = (s: PagingSubject<S>): Record<string, string> => ({ 'conformance-page': s.prefix.replace(/[^a-z0-9]/g, '') });
  const short = (s: PagingSubject<S>, objects: Resource<S>[]): string[] => objects.map((o) => o.metadata.name.slice(s.prefix.length));

  it('pages a list with limit and continue: the pages, in order, are list()', async () => {
    const s = current();
    const labels = pageLabel(s);
    for (const name of ['e', 'a', 'd', 'b', 'c']) await s.store.create(s.newRun(name, { labels }));
    const pages = await allPages(s.store, { namespace: s.namespace, labels, limit: 2 });
    expect(short(s, pages.items)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // A store may end with an empty page: "more may follow" is all a token promises.
    expect(pages.sizes.filter((n) => n > 0)).toEqual([2, 2, 1]);
    const whole = await s.store.list({ namespace: s.namespace, labels });
    expect(pages.items).toEqual(whole);
    const one = await s.store.listPage({ namespace: s.namespace, labels, limit: 5 });
    expect(one.items).toHaveLength(5);
    if (one.continue !== undefined) expect((await s.store.listPage({ namespace: s.namespace, labels, limit: 5, continue: one.continue })).items).toEqual([]);
    const unbounded = await s.store.listPage({ namespace: s.namespace, labels });
    expect(unbounded.items).toEqual(whole);
    expect(unbounded.continue).toBeUndefined();
  });

  it('counts what follows a page (remainingItemCount) when there is no label selector, correctly if at all', async () => {
    const s = current();
    for (const name of ['a', 'b', 'c']) await s.store.create(s.newRun(name));
    const whole = await s.store.list({ namespace: s.namespace });
    const pages = await allPages(s.store, { namespace: s.namespace, limit: 1 });
    expect(pages.items.map((o) => o.metadata.name)).toEqual(whole.map((o) => o.metadata.name));
    pages.remaining.forEach((count, i) => {
      if (i < pages.remaining.length - 1 && count !== undefined) expect(count).toBe(whole.length - (i + 1));
    });
  });

  it('never lists an object twice or skips one that exists throughout, while objects are created and deleted between pages', async () => {
    const s = current();
    const labels = pageLabel(s);
    for (const name of ['b', 'c', 'd', 'e', 'f', 'g']) await s.store.create(s.newRun(name, { labels }));
    const first = await s.store.listPage({ namespace: s.namespace, labels, limit: 2 });
    expect(short(s, first.items)).toEqual(['b', 'c']);
    expect(first.continue).toBeDefined();
    await s.store.create(s.newRun('a', { labels })); // before the cursor
    await s.store.create(s.newRun('z', { labels })); // after it
    await s.store.delete({ namespace: s.namespace, name: `${s.prefix}e` }); // not listed yet
    await s.store.delete({ namespace: s.namespace, name: `${s.prefix}b` }); // listed already
    const rest = await allPages(s.store, { namespace: s.namespace, labels, limit: 2, ...(first.continue === undefined ? {} : { continue: first.continue }) });
    const names = [...short(s, first.items), ...short(s, rest.items)];
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['b', 'c', 'd', 'f', 'g']) expect(names).toContain(name);
    for (const name of names) expect(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'z']).toContain(name);
    expect(names.slice(2)).not.toContain('a');
  });

  it('refuses a continue token it did not issue, and a limit below 1, with VALIDATION', async () => {
    const s = current();
    await s.store.create(s.newRun('a'));
    expect(await codeOf(s.store.listPage({ namespace: s.namespace, limit: 1, continue: 'not-a-token' }))).toBe('VALIDATION');
    expect(await codeOf(s.store.listPage({ namespace: s.namespace, limit: 0 }))).toBe('VALIDATION');
    expect(await codeOf(s.store.listPage({ namespace: s.namespace, limit: 1.5 }))).toBe('VALIDATION');
  });

  it('answers an empty page for a namespace with no objects', async () => {
    const s = current();
    const page = await s.store.listPage({ namespace: `${s.namespace}-nothing-here`, limit: 10 });
    expect(page.items).toEqual([]);
    expect(page.continue).toBeUndefined();
  });
}
