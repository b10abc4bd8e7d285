// The containers a node agent knows it has: those it found by label at start (agentrun/startup.ts)
// and those it started or adopted since, less those it removed. An agent is the only creator of
// containers with its owner label, so a run whose container name is not known here and whose
// status does not say Running has no container: its reconcile needs no `podman inspect` (with
// 10,000 finished or suspended runs in a store, that was one podman process per run at start).
// A container started by a process killed before it could record anything is found at the next
// start by label, and a start that finds the name taken adopts the container (runner/).

/** A set of container names, with the one question the reconciler asks. */
export class KnownContainers {
  readonly #names = new Set<string>();

  add(name: string): void {
    this.#names.add(name);
  }

  delete(name: string): void {
    this.#names.delete(name);
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  get size(): number {
    return this.#names.size;
  }
}
