// A per-test list of things to undo (servers, child processes, containers, temp dirs). Run in
// reverse order from afterEach; every step runs even when an earlier one fails, and the failures
// are thrown together at the end, so a leak fails the test instead of passing silently.

export class Cleanup {
  readonly #steps: Array<{ label: string; fn: () => Promise<void> | void }> = [];

  /** Registers a step; steps run last-in, first-out. */
  add(label: string, fn: () => Promise<void> | void): void {
    this.#steps.push({ label, fn });
  }

  /** Runs (and forgets) every registered step. Throws an AggregateError naming each failed step. */
  async run(): Promise<void> {
    const errors: Error[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop();
      if (step === undefined) break;
      try {
        await step.fn();
      } catch (err) {
        errors.push(new Error(`cleanup step '${step.label}' failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }
}
