// The Lease seam of Kubernetes mode (docs/multi-node.md): what a node agent needs of
// coordination.k8s.io/v1 Leases to say it is alive (its node Lease) and to elect the one janitor
// (the role's Lease). The adapter is controller/src/store/kube/kube-leases.ts; MemoryLeaseStore
// below is the fake, with real resourceVersions and conflicts. The decisions are pure functions.
import { ConflictError, NotFoundError } from '../../../contract/errors.ts';

/** A Lease as the agents use it (the fields of coordination.k8s.io/v1 LeaseSpec we read and write). */
export interface LeaseRecord {
  name: string;
  /** Who holds it: a node name. Absent when released. */
  holderIdentity?: string;
  leaseDurationSeconds: number;
  /** RFC 3339 (microseconds on the wire); the last renewal by the holder. */
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions: number;
  /** What a node Lease is: set on the Leases of node agents (the janitor lists those), absent on the role's. */
  node?: string;
  /** Opaque; an update carrying a stale one fails with ConflictError. */
  resourceVersion: string;
}

/** What create() takes: everything but the resourceVersion. */
export type NewLease = Omit<LeaseRecord, 'resourceVersion'>;

/** Leases in one namespace. Writes are compare-and-swap on resourceVersion. */
export interface LeaseStore {
  /** undefined when there is none. */
  get(name: string): Promise<LeaseRecord | undefined>;
  /** Throws ConflictError when the name is taken (another agent created it first). */
  create(lease: NewLease): Promise<LeaseRecord>;
  /** Replaces the Lease; throws ConflictError when lease.resourceVersion is stale, NotFoundError when it is gone. */
  update(lease: LeaseRecord): Promise<LeaseRecord>;
  /** The node Leases (those with `node` set). */
  listNodeLeases(): Promise<LeaseRecord[]>;
}

/** The name of a node agent's Lease. */
export function nodeLeaseName(node: string): string {
  return `stromboli-node-${node}`;
}

/** The name of the janitor role's Lease. */
export const JANITOR_LEASE = 'stromboli-janitor';

/** True when nobody holds the Lease or its holder has not renewed it within its duration (by this clock). */
export function isLeaseExpired(lease: Pick<LeaseRecord, 'holderIdentity' | 'renewTime' | 'leaseDurationSeconds'>, now: number): boolean {
  if (lease.holderIdentity === undefined || lease.holderIdentity === '') return true;
  const renewed = lease.renewTime === undefined ? Number.NaN : Date.parse(lease.renewTime);
  if (!Number.isFinite(renewed)) return true;
  return renewed + lease.leaseDurationSeconds * 1000 < now;
}

/** What to do about a Lease `me` wants to hold. */
export type LeaseStep =
  /** There is none: create it, held by me. */
  | { type: 'create' }
  /** Mine and live: renew it (renewTime now). */
  | { type: 'renew' }
  /** Free or expired (mine or another's): take it (acquireTime now, one more transition). */
  | { type: 'take' }
  /** Another holder's and live: wait. */
  | { type: 'wait'; holder: string };

/** The next step towards holding `lease` as `me` (the client-go leader election algorithm, one step). */
export function decideLeaseStep(lease: LeaseRecord | undefined, me: string, now: number): LeaseStep {
  if (lease === undefined) return { type: 'create' };
  const expired = isLeaseExpired(lease, now);
  if (lease.holderIdentity === me && !expired) return { type: 'renew' };
  if (expired) return { type: 'take' };
  return { type: 'wait', holder: lease.holderIdentity ?? '' };
}

/** RFC 3339 with microseconds, the Lease's MicroTime format. */
export function toMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The Lease after `step` (create, renew or take) by `me` at `now`. */
export function leaseAfter(step: 'create' | 'renew' | 'take', current: LeaseRecord | undefined, base: { name: string; me: string; durationSeconds: number; node?: string; now: number }): NewLease & { resourceVersion?: string } {
  const time = toMicroTime(base.now);
  const node = base.node === undefined ? {} : { node: base.node };
  if (step === 'renew' && current !== undefined) return { ...current, holderIdentity: base.me, leaseDurationSeconds: base.durationSeconds, renewTime: time };
  const transitions = current === undefined ? 0 : current.leaseTransitions + (current.holderIdentity === base.me ? 0 : 1);
  return {
    ...(current === undefined ? {} : { resourceVersion: current.resourceVersion }),
    name: base.name,
    holderIdentity: base.me,
    leaseDurationSeconds: base.durationSeconds,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: transitions,
    ...node,
  };
}

/** The fake LeaseStore: in memory, with resourceVersions and conflicts like the API server's. */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, LeaseRecord>();
  #version = 0;
  /** When set, every call throws it (an API server that cannot be reached). */
  failWith: Error | undefined;

  async get(name: string): Promise<LeaseRecord | undefined> {
    this.#check();
    const lease = this.#leases.get(name);
    return lease === undefined ? undefined : { ...lease };
  }

  async create(lease: NewLease): Promise<LeaseRecord> {
    this.#check();
    if (this.#leases.has(lease.name)) throw new ConflictError(`lease ${lease.name} already exists`);
    return this.#put({ ...lease, resourceVersion: '' });
  }

  async update(lease: LeaseRecord): Promise<LeaseRecord> {
    this.#check();
    const current = this.#leases.get(lease.name);
    if (current === undefined) throw new NotFoundError(`lease ${lease.name} not found`);
    if (current.resourceVersion !== lease.resourceVersion) throw new ConflictError(`lease ${lease.name} changed`);
    return this.#put(lease);
  }

  async listNodeLeases(): Promise<LeaseRecord[]> {
    this.#check();
    return [...this.#leases.values()].filter((l) => l.node !== undefined).map((l) => ({ ...l }));
  }

  #put(lease: LeaseRecord): LeaseRecord {
    this.#version += 1;
    const stored = { ...lease, resourceVersion: String(this.#version) };
    this.#leases.set(lease.name, stored);
    return { ...stored };
  }

  #check(): void {
    if (this.failWith !== undefined) throw this.failWith;
  }
}
