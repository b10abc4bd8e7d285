// The informer's ListWatchSource over @kubernetes/client-node 2.0.1: a paged list through the
// CustomObjectsApi and a streaming watch through client-node's Watch, with bookmarks, a
// jittered server-side timeout (its end is the informer's periodic relist) and a client
// inactivity timeout raised above the bookmark period.

import { Watch } from '@kubernetes/client-node';
import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { ListWatchSource, WatchHandlers } from './informer.ts';
import { TransientError, isAppError } from '../../../../contract/errors.ts';
import { toListError } from './kube-errors.ts';
import { KubeListSchema } from './kube-object.ts';

/** Which objects: one CRD, in one namespace or all. */
export interface KubeTarget {
  group: string;
  version: string;
  plural: string;
  /** undefined: all namespaces. */
  namespace: string | undefined;
}

/** A list answer: the raw items and the resourceVersion it was served at. */
export interface ListedObjects {
  resourceVersion: string;
  items: unknown[];
}

/** One list request's answer: its items, the token of the next page, the count the server gave. */
export interface ListedPage extends ListedObjects {
  continue: string | undefined;
  remainingItemCount: number | undefined;
}

/**
 * One list request (a page when `limit` is given); every failure is the project's error
 * (kube-errors.ts), and a 410 for a `continue` token is AppError 'EXPIRED'.
 */
export async function listPage(
  api: CustomObjectsApi, target: KubeTarget, options: { labelSelector?: string | undefined; limit?: number | undefined; continue?: string | undefined },
): Promise<ListedPage> {
  const { group, version, plural, namespace } = target;
  const page: { group: string; version: string; limit?: number; labelSelector?: string; _continue?: string } = { group, version };
  if (options.limit !== undefined) page.limit = options.limit;
  if (options.labelSelector !== undefined) page.labelSelector = options.labelSelector;
  if (options.continue !== undefined) page._continue = options.continue;
  let raw: unknown;
  try {
    // The all-namespaces call names the plural `resourcePlural` (client-node 2.0.1).
    raw = namespace === undefined
      ? await api.listCustomObjectForAllNamespaces({ ...page, resourcePlural: plural })
      : await api.listNamespacedCustomObject({ ...page, plural, namespace });
  } catch (err) {
    throw toListError(err, `list ${plural}.${group}${namespace === undefined ? '' : ` in ${namespace}`}`, options.continue !== undefined);
  }
  const list = KubeListSchema.parse(raw);
  const next = list.metadata['continue'];
  const remaining = list.metadata['remainingItemCount'];
  return {
    resourceVersion: list.metadata.resourceVersion,
    items: list.items,
    continue: typeof next === 'string' && next !== '' ? next : undefined,
    remainingItemCount: typeof remaining === 'number' && Number.isSafeInteger(remaining) && remaining >= 0 ? remaining : undefined,
  };
}

/**
 * Lists every object of `target` (filtered by `labelSelector`), following `continue` tokens so
 * no answer is larger than `pageSize` items; every page is served at the first page's
 * resourceVersion. Throws the project's errors (kube-errors.ts); a token that expires midway is
 * a TransientError (the caller lists again from the start), not the 'EXPIRED' a client gets.
 */
export async function listObjects(
  api: CustomObjectsApi, target: KubeTarget, options: { labelSelector?: string | undefined; pageSize: number },
): Promise<ListedObjects> {
  const items: unknown[] = [];
  let resourceVersion: string | undefined;
  let token: string | undefined;
  do {
    let page: ListedPage;
    try {
      page = await listPage(api, target, { labelSelector: options.labelSelector, limit: options.pageSize, continue: token });
    } catch (err) {
      if (isAppError(err) && err.code === 'EXPIRED') throw new TransientError(err.message, 0, { cause: err });
      throw err;
    }
    resourceVersion ??= page.resourceVersion;
    items.push(...page.items);
    token = page.continue;
  } while (token !== undefined);
  return { resourceVersion, items };
}

/** URL path of the watch (and list) of `target`. */
export function watchPath(target: KubeTarget): string {
  const base = `/apis/${target.group}/${target.version}`;
  return target.namespace === undefined ? `${base}/${target.plural}` : `${base}/namespaces/${target.namespace}/${target.plural}`;
}

/** Tuning of the watch requests. */
export interface KubeWatchTuning {
  /** Server-side timeout of one watch; each watch asks for a random value in [this, 2 × this). */
  watchTimeoutSeconds: number;
  /** client-node's inactivity timeout (its default, 30 s, is shorter than the 1 min bookmark period). */
  inactivityTimeoutMs: number;
  /** Paging of the lists. */
  pageSize: number;
  /** Uniform source in [0, 1) for the timeout jitter. Default: Math.random. */
  random?: () => number;
}

/** The ListWatchSource of one KubeStore watch(). */
export function kubeListWatch(kubeConfig: KubeConfig, api: CustomObjectsApi, target: KubeTarget, tuning: KubeWatchTuning): ListWatchSource {
  const random = tuning.random ?? Math.random;
  return {
    list: () => listObjects(api, target, { pageSize: tuning.pageSize }),
    async watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void> {
      const watch = new Watch(kubeConfig);
      // Watch keeps its inactivity timeout in a private field with no setter (2.0.1); a quiet
      // watch gets a bookmark about once a minute, so 30 s would end every quiet watch.
      if (typeof Reflect.get(watch, 'requestTimeoutMs') === 'number') Reflect.set(watch, 'requestTimeoutMs', tuning.inactivityTimeoutMs);
      const timeoutSeconds = Math.floor(tuning.watchTimeoutSeconds * (1 + random()));
      const controller = await watch.watch(
        watchPath(target),
        { allowWatchBookmarks: true, resourceVersion, timeoutSeconds },
        (type: string, object: unknown) => handlers.onEvent(type, object),
        (err: unknown) => handlers.onEnd(err),
      );
      return () => controller.abort();
    },
  };
}
