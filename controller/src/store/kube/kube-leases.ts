// KubeLeaseStore: the LeaseStore (controller/src/agentrun/leases.ts) over coordination.k8s.io/v1
// Leases in one namespace. Updates are PUTs carrying metadata.resourceVersion, so a stale one is
// a 409 (ConflictError): the compare-and-swap leader election rests on. Node Leases carry the
// label stromboli.dev/lease=node and the node's name in an annotation (a label value could not
// hold every node name), so the janitor lists them with one label selector.
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { AppError, ConflictError, NotFoundError } from '../../../../contract/errors.ts';
import type { LeaseRecord, LeaseStore, NewLease } from '../../agentrun/leases.ts';
import { toStoreError } from './kube-errors.ts';

/** Label of every Lease the agents write, with the kind of Lease as its value. */
export const LEASE_LABEL = 'stromboli.dev/lease';
/** Annotation of a node Lease: the node it stands for. */
export const LEASE_NODE_ANNOTATION = 'stromboli.dev/node';

export interface KubeLeaseStoreOptions {
  kubeConfig: KubeConfig;
  /** Where the Leases live (the release namespace in a cluster). */
  namespace: string;
}

/** The LeaseStore of Kubernetes mode; see the file comment. */
export class KubeLeaseStore implements LeaseStore {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;

  constructor(options: KubeLeaseStoreOptions) {
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#namespace = options.namespace;
  }

  get namespace(): string {
    return this.#namespace;
  }

  async get(name: string): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.#api.readNamespacedLease({ name, namespace: this.#namespace }));
    } catch (err) {
      const mapped = toStoreError(err, `get lease ${this.#namespace}/${name}`);
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
  }

  async create(lease: NewLease): Promise<LeaseRecord> {
    try {
      return toRecord(await this.#api.createNamespacedLease({ namespace: this.#namespace, body: toBody(lease, this.#namespace) }));
    } catch (err) {
      const mapped = toStoreError(err, `create lease ${this.#namespace}/${lease.name}`);
      // Another agent created it first: the same race as a stale update.
      if (mapped instanceof AppError && mapped.code === 'ALREADY_EXISTS') throw new ConflictError(mapped.message, { cause: err });
      throw mapped;
    }
  }

  async update(lease: LeaseRecord): Promise<LeaseRecord> {
    try {
      const body = toBody(lease, this.#namespace);
      return toRecord(await this.#api.replaceNamespacedLease({ name: lease.name, namespace: this.#namespace, body }));
    } catch (err) {
      throw toStoreError(err, `update lease ${this.#namespace}/${lease.name}`);
    }
  }

  async listNodeLeases(): Promise<LeaseRecord[]> {
    try {
      const list = await this.#api.listNamespacedLease({ namespace: this.#namespace, labelSelector: `${LEASE_LABEL}=node` });
      return list.items.map(toRecord).filter((l) => l.node !== undefined);
    } catch (err) {
      throw toStoreError(err, `list leases in ${this.#namespace}`);
    }
  }
}

function toBody(lease: NewLease & { resourceVersion?: string }, namespace: string): V1Lease {
  const spec: NonNullable<V1Lease['spec']> = { leaseDurationSeconds: lease.leaseDurationSeconds, leaseTransitions: lease.leaseTransitions };
  if (lease.holderIdentity !== undefined) spec.holderIdentity = lease.holderIdentity;
  if (lease.renewTime !== undefined) spec.renewTime = new V1MicroTime(lease.renewTime);
  if (lease.acquireTime !== undefined) spec.acquireTime = new V1MicroTime(lease.acquireTime);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: lease.name,
      namespace,
      labels: { [LEASE_LABEL]: lease.node === undefined ? 'role' : 'node' },
      ...(lease.node === undefined ? {} : { annotations: { [LEASE_NODE_ANNOTATION]: lease.node } }),
      ...(lease.resourceVersion === undefined ? {} : { resourceVersion: lease.resourceVersion }),
    },
    spec,
  };
}

/** client-node types MicroTime as a Date (and may hand the JSON string through): keep RFC 3339. */
function timeOf(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const node = lease.metadata?.annotations?.[LEASE_NODE_ANNOTATION];
  const renewTime = timeOf(spec.renewTime);
  const acquireTime = timeOf(spec.acquireTime);
  return {
    name: lease.metadata?.name ?? '',
    ...(spec.holderIdentity === undefined || spec.holderIdentity === '' ? {} : { holderIdentity: spec.holderIdentity }),
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    ...(renewTime === undefined ? {} : { renewTime }),
    ...(acquireTime === undefined ? {} : { acquireTime }),
    leaseTransitions: spec.leaseTransitions ?? 0,
    ...(node === undefined ? {} : { node }),
    resourceVersion: lease.metadata?.resourceVersion ?? '',
  };
}
