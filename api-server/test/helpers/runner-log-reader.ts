// The LogReader of the API's unit tests: what the FakeAgentRunner's containers printed, read the
// way the file-backed reader reads the state directory (replay from a line, then follow while the
// run is unfinished and still on that attempt), plus a switch that makes a run's log unreadable.
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { LogReader, RunStore, StoredRun } from '../../../contract/ports.ts';
import type { FakeAgentRunner } from '../../../controller/src/runner/fake-runner.ts';

export interface RunnerLogReaderOptions {
  runner: FakeAgentRunner;
  /** Where the reader looks whether a run is finished. */
  store: RunStore;
  /** How often a follower looks for new lines. Default 5 ms. */
  pollMs?: number;
}

export class RunnerLogReader implements LogReader {
  readonly #o: RunnerLogReaderOptions;
  readonly #broken = new Set<string>();

  constructor(options: RunnerLogReaderOptions) {
    this.#o = options;
  }

  /** Reading this run's log throws from now on (a disk error, a log removed underneath). */
  break(uid: string): void {
    this.#broken.add(uid);
  }

  async *lines(run: StoredRun, options: { attempt?: number; follow: boolean; fromLine?: number; signal: AbortSignal }): AsyncIterable<string> {
    const { uid } = run.metadata;
    const attempt = options.attempt ?? run.status?.attempt ?? 1;
    let next = options.fromLine ?? 0;
    for (;;) {
      // Decided before the read, so the lines printed up to the run's end are always read.
      const more = options.follow && (await this.#printing(run, attempt));
      if (this.#broken.has(uid)) throw new Error(`log of ${uid} is unreadable`);
      const printed = this.#o.runner.output(run.metadata, attempt);
      for (; next < printed.length; next += 1) {
        if (options.signal.aborted) return;
        yield printed[next] ?? '';
      }
      if (!more || options.signal.aborted) return;
      await sleep(this.#o.pollMs ?? 5, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  /** True while the attempt may still print: the run is there, unfinished and has not moved on. */
  async #printing(run: StoredRun, attempt: number): Promise<boolean> {
    const current = await this.#o.store.get(run.metadata).catch(() => undefined);
    if (current?.metadata.uid !== run.metadata.uid) return false;
    return !isTerminalPhase(current.status?.phase) && (current.status?.attempt ?? 1) <= attempt;
  }
}
