// KubeStore: the ResourceStore over a real API server, for one CRD (AgentRun by default), in
// one namespace or all. Reads go through the CustomObjectsApi; spec and finalizer writes are
// JSON merge patches carrying metadata.resourceVersion as their precondition (a stale one is a
// 409); status is a PUT of the /status subresource, which replaces it exactly (a merge patch
// would keep removed keys) and never touches spec or generation; watch() is a supervised
// informer (informer.ts). Every failure is mapped in kube-errors.ts.

import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { ValidationError, NotFoundError } from '../../../../contract/errors.ts';
import { compareObjects } from '../../../../contract/store/object-list.ts';
import type { ListOptions, NewResource, PageOptions, Resource, ResourcePage, ResourceRef, ResourceStore, StoreEvent } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';
import { createBackoff } from '../../../../contract/backoff.ts';
import { informerEvents } from './informer.ts';
import { loadKubeConfig } from './kube-config.ts';
import { toStoreError } from './kube-errors.ts';
import { kubeListWatch, listObjects, listPage } from './kube-list-watch.ts';
import { checkLimit } from '../../../../contract/store/object-page.ts';
import type { KubeTarget } from './kube-list-watch.ts';
import { parseResource, toCreateBody, toLabelSelector } from './kube-object.ts';
import { resolveKubeStoreSettings } from './kube-store-options.ts';
import type { KubeStoreOptions, KubeStoreSettings } from './kube-store-options.ts';

/**
 * client-node's CustomObjectsApi sends patches as application/json-patch+json unless told
 * otherwise (the first type of the OpenAPI list); every patch here is a JSON merge patch.
 */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** How far above staleAfterMs client-node's own inactivity timeout sits: our watchdog fires first, with its reason. */
const INACTIVITY_MARGIN_MS = 5_000;

/** The ResourceStore of Kubernetes mode; see the file comment. */
export class KubeStore<S> implements ResourceStore<S> {
  readonly #settings: KubeStoreSettings<S>;
  readonly #kubeConfig: KubeConfig;
  readonly #api: CustomObjectsApi;

  constructor(options: KubeStoreOptions<S> = {}) {
    this.#settings = resolveKubeStoreSettings(options);
    this.#kubeConfig = options.kubeConfig ?? loadKubeConfig().kubeConfig;
    this.#api = this.#kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** The namespace this store is limited to, or undefined for all namespaces. */
  get namespace(): string | undefined {
    return this.#settings.namespace;
  }

  async list(options: ListOptions = {}): Promise<Resource<S>[]> {
    const scope = this.#settings.namespace;
    if (scope !== undefined && options.namespace !== undefined && options.namespace !== scope) return [];
    const listed = await listObjects(this.#api, this.#target(options.namespace ?? scope), {
      labelSelector: toLabelSelector(options.labels),
      pageSize: this.#settings.listPageSize,
    });
    const objects: Resource<S>[] = [];
    for (const raw of listed.items) {
      const object = this.#tryParse(raw);
      if (object !== undefined) objects.push(object);
    }
    return objects.sort(compareObjects);
  }

  /** The API server's own paging: every page at the first page's resourceVersion; its token expires (AppError 'EXPIRED'). */
  async listPage(options: PageOptions): Promise<ResourcePage<S>> {
    checkLimit(options.limit);
    const scope = this.#settings.namespace;
    if (scope !== undefined && options.namespace !== undefined && options.namespace !== scope) return { items: [] };
    const page = await listPage(this.#api, this.#target(options.namespace ?? scope), {
      labelSelector: toLabelSelector(options.labels),
      limit: options.limit,
      continue: options.continue,
    });
    const items: Resource<S>[] = [];
    for (const raw of page.items) {
      const object = this.#tryParse(raw);
      if (object !== undefined) items.push(object);
    }
    return {
      items, // the server's order: by namespace/name (its storage keys), the same as list()'s within a namespace
      ...(page.continue === undefined ? {} : { continue: page.continue }),
      ...(page.remainingItemCount === undefined ? {} : { remainingItemCount: page.remainingItemCount }),
    };
  }

  async get(ref: ResourceRef): Promise<Resource<S>> {
    const params = this.#objectParams(ref);
    return this.#call(`get ${keyOf(ref)}`, () => this.#api.getNamespacedCustomObject(params));
  }

  watch(signal: AbortSignal): AsyncIterable<StoreEvent<S>> {
    const s = this.#settings;
    const source = kubeListWatch(this.#kubeConfig, this.#api, this.#target(s.namespace), {
      watchTimeoutSeconds: s.watchTimeoutSeconds,
      inactivityTimeoutMs: s.staleAfterMs + INACTIVITY_MARGIN_MS,
      pageSize: s.listPageSize,
    });
    return informerEvents<S>({
      source,
      parse: (raw) => parseResource(raw, s.parseStatus),
      log: s.log,
      staleAfterMs: s.staleAfterMs,
      backoff: createBackoff(s.watchBackoff),
      healthyAfterMs: s.healthyWatchMs,
    }, signal);
  }

  async create(object: NewResource): Promise<Resource<S>> {
    const s = this.#settings;
    const namespace = object.metadata.namespace ?? s.namespace ?? s.defaultNamespace;
    if (s.namespace !== undefined && namespace !== s.namespace) {
      throw new ValidationError(`metadata.namespace "${namespace}" is outside this store's namespace "${s.namespace}"`);
    }
    if (object.apiVersion !== s.apiVersion || object.kind !== s.kind) {
      throw new ValidationError(`this store holds ${s.apiVersion} ${s.kind}, not ${object.apiVersion} ${object.kind}`);
    }
    const { group, version, plural, fieldManager } = s;
    const name = object.metadata.name ?? `${object.metadata.generateName ?? ''}*`;
    return this.#call(`create ${namespace}/${name}`, () =>
      this.#api.createNamespacedCustomObject({ group, version, plural, namespace, fieldManager, body: toCreateBody(object, namespace) }));
  }

  async patchSpec(ref: ResourceRef, patch: Record<string, unknown>, resourceVersion?: string): Promise<Resource<S>> {
    const body = { ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }), spec: patch };
    const params = { ...this.#objectParams(ref), fieldManager: this.#settings.fieldManager, body };
    return this.#call(`patch spec of ${keyOf(ref)}`, () => this.#api.patchNamespacedCustomObject(params, MERGE_PATCH));
  }

  async updateStatus(ref: ResourceRef, status: S, resourceVersion: string): Promise<Resource<S>> {
    const { apiVersion, kind, fieldManager } = this.#settings;
    const body = { apiVersion, kind, metadata: { name: ref.name, namespace: ref.namespace, resourceVersion }, status };
    const params = { ...this.#objectParams(ref), fieldManager, body };
    return this.#call(`update status of ${keyOf(ref)}`, () => this.#api.replaceNamespacedCustomObjectStatus(params));
  }

  async setFinalizers(ref: ResourceRef, finalizers: string[], resourceVersion: string): Promise<Resource<S> | undefined> {
    const body = { metadata: { resourceVersion, finalizers: [...finalizers] } };
    const params = { ...this.#objectParams(ref), fieldManager: this.#settings.fieldManager, body };
    const result = await this.#call(`set finalizers of ${keyOf(ref)}`, () => this.#api.patchNamespacedCustomObject(params, MERGE_PATCH));
    // Emptying the finalizers of an object being deleted makes the API server delete it; the
    // answer is then the object as it was deleted.
    if (finalizers.length === 0 && result.metadata.deletionTimestamp !== undefined) return undefined;
    return result;
  }

  async delete(ref: ResourceRef): Promise<void> {
    const params = this.#objectParams(ref);
    try {
      await this.#api.deleteNamespacedCustomObject(params);
    } catch (err) {
      throw toStoreError(err, `delete ${keyOf(ref)}`);
    }
  }

  #target(namespace: string | undefined): KubeTarget {
    const { group, version, plural } = this.#settings;
    return { group, version, plural, namespace };
  }

  /** Request parameters naming one object; NotFoundError for one outside the store's namespace. */
  #objectParams(ref: ResourceRef): { group: string; version: string; plural: string; namespace: string; name: string } {
    const { group, version, plural, namespace } = this.#settings;
    if (namespace !== undefined && ref.namespace !== namespace) throw new NotFoundError(`${keyOf(ref)} not found: this store holds namespace ${namespace} only`);
    return { group, version, plural, namespace: ref.namespace, name: ref.name };
  }

  /** Runs one request and parses its answer; any failure becomes the project's error. */
  async #call(what: string, request: () => Promise<unknown>): Promise<Resource<S>> {
    let raw: unknown;
    try {
      raw = await request();
    } catch (err) {
      throw toStoreError(err, what);
    }
    return parseResource(raw, this.#settings.parseStatus);
  }

  #tryParse(raw: unknown): Resource<S> | undefined {
    try {
      return parseResource(raw, this.#settings.parseStatus);
    } catch (err) {
      this.#settings.log.warn({ err }, 'unreadable object skipped');
      return undefined;
    }
  }
}
