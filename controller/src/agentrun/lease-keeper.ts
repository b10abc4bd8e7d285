// LeaseKeeper: holds one Lease and renews it (a node agent's own Lease, or the janitor role's).
// held() is what the rest of the agent asks before it claims or starts anything: true only while
// the last renewal succeeded and is younger than the Lease duration by this process's clock, so
// an agent that was frozen (SIGSTOP) or cut off stops claiming at once, before any timer runs.
// When the Lease comes back after it was lost, onAcquired runs (the rejoin sweep) before held()
// says true again. Each step is decideLeaseStep (leases.ts), a compare-and-swap on the Lease.
import { ConflictError } from '../../../contract/errors.ts';
import type { Logger } from '../reconcile/types.ts';
import { decideLeaseStep, leaseAfter } from './leases.ts';
import type { LeaseRecord, LeaseStore } from './leases.ts';

/** Default leaseDurationSeconds: controller-runtime's leader-election lease (15 s). */
export const DEFAULT_LEASE_DURATION_SECONDS = 15;

export interface LeaseKeeperOptions {
  leases: LeaseStore;
  /** The Lease's name. */
  name: string;
  /** holderIdentity written: this agent's node name. */
  identity: string;
  /** Written as leaseDurationSeconds; the others consider the Lease lost this long after its last renewal. */
  durationSeconds: number;
  /** Set on a node Lease (the node it stands for); absent for the janitor role's. */
  node?: string;
  /** Time between renewals. Default: a quarter of the duration, at most 2 s (controller-runtime's retry period). */
  renewMs?: number;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Runs when the Lease is held after it was not (the first time, and after a loss); held() stays false until it resolves. */
  onAcquired?: (regained: boolean) => Promise<void> | void;
  /** Runs when a held Lease is found lost (not renewed within its duration, or another holder took it). */
  onLost?: () => void;
  /** Epoch ms now. Default Date.now. */
  now?: () => number;
}

/** Holds and renews one Lease; see the file comment. */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #now: () => number;
  readonly #renewMs: number;
  #lease: LeaseRecord | undefined;
  /** Local time of the last successful create/renew/take; NaN before the first. */
  #renewedAt = Number.NaN;
  /** True between a successful step (and onAcquired) and the moment it is found failed or lost. */
  #holding = false;
  #everHeld = false;
  /** True after a failed step, until one succeeds: no claims meanwhile, though the Lease may still be ours. */
  #failing = false;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LeaseKeeperOptions) {
    if (!(options.durationSeconds >= 1)) throw new RangeError(`lease duration ${options.durationSeconds}s must be at least 1 s`);
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#renewMs = options.renewMs ?? Math.min(2_000, (options.durationSeconds * 1000) / 4);
  }

  /** True while this agent may act as the Lease's holder (see the file comment). */
  held(): boolean {
    return this.#holding && !this.#failing && this.#fresh();
  }

  #fresh(): boolean {
    return this.#now() - this.#renewedAt < this.#o.durationSeconds * 1000;
  }

  /** One step now, then one every renewMs until stop(). Never rejects: a failed step is logged and the next one tries again. */
  async start(): Promise<void> {
    await this.tick();
    if (this.#stopped) return;
    this.#timer = setInterval(() => void this.tick(), this.#renewMs);
    this.#timer.unref();
  }

  /** Stops renewing; with release, gives the Lease up so another holder need not wait for it to expire. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#ticking;
    const lease = this.#lease;
    if (options.release === true && this.held() && lease !== undefined) {
      const { holderIdentity: _gone, ...rest } = lease;
      try {
        await this.#o.leases.update({ ...rest, leaseDurationSeconds: 1 });
      } catch (err) {
        this.#o.log.debug({ err, lease: this.#o.name }, 'lease release failed');
      }
    }
    this.#holding = false;
  }

  /** One renewal step (also what the timer runs); concurrent calls share one step. */
  tick(): Promise<void> {
    this.#ticking ??= this.#step().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #step(): Promise<void> {
    const { leases, name, identity, durationSeconds, log } = this.#o;
    // Frozen or cut off past the duration: the others may already treat the Lease as lost.
    if (this.#holding && !this.#fresh()) this.#lose('lease not renewed within its duration');
    let acquired = false;
    try {
      const current = await leases.get(name);
      const now = this.#now();
      const step = decideLeaseStep(current, identity, now);
      if (step.type === 'wait') {
        this.#lease = current;
        if (this.#holding) this.#lose(`lease taken by ${step.holder}`);
        return;
      }
      const next = leaseAfter(step.type, current, { name, me: identity, durationSeconds, now, ...(this.#o.node === undefined ? {} : { node: this.#o.node }) });
      const { resourceVersion, ...fields } = next;
      this.#lease = resourceVersion === undefined ? await leases.create(fields) : await leases.update({ ...fields, resourceVersion });
      this.#renewedAt = now;
      this.#failing = false;
      acquired = !this.#holding;
    } catch (err) {
      // A conflict is another agent's write winning (or ours racing): the next step reads again.
      const level = err instanceof ConflictError ? 'debug' : 'warn';
      log[level]({ err, lease: name }, 'lease renewal failed');
      this.#failing = true;
      return;
    }
    if (!acquired || this.#stopped) return;
    const regained = this.#everHeld;
    try {
      await this.#o.onAcquired?.(regained);
    } catch (err) {
      log.warn({ err, lease: name }, 'lease acquired but its hook failed');
      return;
    }
    this.#everHeld = true;
    this.#holding = true;
    log.info({ lease: name, regained }, 'lease acquired');
  }

  #lose(why: string): void {
    this.#holding = false;
    this.#o.log.warn({ lease: this.#o.name, why }, 'lease lost');
    this.#o.onLost?.();
  }
}
