// The limit on concurrently running containers. Runs over it wait, ordered by priority (higher
// first) then age (older first); when a slot frees, the runs next in line are handed to `wake`
// so the loop reconciles them. In-process state only: on start it is rebuilt from the store
// (waiting runs) and from podman (running containers), before the first reconcile.

export interface SlotsOptions {
  /** How many containers may run at once. Default 4. */
  limit?: number;
  /** Called with the keys that may now get a slot. */
  wake?: (keys: string[]) => void;
}

interface Waiter {
  priority: number;
  createdAt: number;
}

export class Slots {
  readonly limit: number;
  readonly #wake: (keys: string[]) => void;
  readonly #running = new Set<string>();
  readonly #waiting = new Map<string, Waiter>();

  constructor(options: SlotsOptions = {}) {
    this.limit = Math.max(1, options.limit ?? 4);
    this.#wake = options.wake ?? (() => {});
  }

  /** Puts a run in line (idempotent; a newer priority replaces the old one). */
  register(key: string, priority: number, createdAt: number): void {
    if (!this.#running.has(key)) this.#waiting.set(key, { priority, createdAt });
  }

  /** Takes a slot for `key` if it is free and `key` is next in line. */
  tryAcquire(key: string, priority: number, createdAt: number): boolean {
    if (this.#running.has(key)) return true;
    this.register(key, priority, createdAt);
    const free = this.limit - this.#running.size;
    if (free <= 0) return false;
    if (!this.#inLine(free).includes(key)) return false;
    this.#waiting.delete(key);
    this.#running.add(key);
    return true;
  }

  /** The keys holding a slot now (claimed or starting or running on this agent). */
  holders(): ReadonlySet<string> {
    return this.#running;
  }

  /** Records a run whose container already runs (adoption), whatever the limit says. */
  markRunning(key: string): void {
    this.#waiting.delete(key);
    this.#running.add(key);
  }

  /** Frees the run's slot (and its place in line) and wakes the next runs in line. */
  release(key: string): void {
    const freed = this.#running.delete(key);
    this.#waiting.delete(key);
    if (freed) this.#wakeNext();
  }

  /**
   * Like release, and also wakes the next runs in line when `key` only waited: with several
   * agents, a run another agent claimed leaves this agent's line, and the one behind it moves up.
   */
  forget(key: string): void {
    const freed = this.#running.delete(key);
    const dropped = this.#waiting.delete(key);
    if (freed || dropped) this.#wakeNext();
  }

  get running(): number {
    return this.#running.size;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  #ordered(): string[] {
    return [...this.#waiting.entries()]
      .sort(([ka, a], [kb, b]) => b.priority - a.priority || a.createdAt - b.createdAt || (ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([key]) => key);
  }

  #inLine(free: number): string[] {
    return this.#ordered().slice(0, free);
  }

  #wakeNext(): void {
    const free = this.limit - this.#running.size;
    if (free > 0 && this.#waiting.size > 0) this.#wake(this.#inLine(free));
  }
}
