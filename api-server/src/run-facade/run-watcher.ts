// One watch over the store for the whole facade, fanned out to whoever waits: sync /run requests
// waiting for their run to finish, streams waiting for the final status, the webhook dispatcher.
// One watch instead of one per request, because every watch starts by replaying every run.
// Waiting is watch + get, never a poll loop; a slow resync get guards against a watch that
// stalls without an error (kubernetes-client/javascript#596, #958).
import type { FastifyBaseLogger } from 'fastify';
import { NotFoundError } from '../../../contract/errors.ts';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { RunRef, RunStore, StoredRun } from '../../../contract/ports.ts';
import type { StoreEvent } from '../../../contract/store/store.ts';
import { DEFAULT_WATCH_BACKOFF, superviseWatch } from '../../../contract/store/supervised-watch.ts';
import { isFinished } from './run-view.ts';

/** A store event of one run. */
export type RunEvent = StoreEvent<AgentRunStatus>;

export type RunEventListener = (event: RunEvent) => void;

export type FacadeLogger = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface RunWatcherOptions {
  runs: RunStore;
  log: FacadeLogger;
  /** A waiter re-reads its run this often even without events. Default 30 s. */
  resyncMs?: number;
  /** First delay before re-opening a watch that failed or ended; doubles (with jitter) up to 30 s. Default 1 s. */
  restartDelayMs?: number;
}

function keyOf(ref: RunRef): string {
  return `${ref.namespace}/${ref.name}`;
}

export class RunWatcher {
  readonly #runs: RunStore;
  readonly #log: FacadeLogger;
  readonly #resyncMs: number;
  readonly #restartDelayMs: number;
  readonly #all = new Set<RunEventListener>();
  readonly #byKey = new Map<string, Set<RunEventListener>>();
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: RunWatcherOptions) {
    this.#runs = options.runs;
    this.#log = options.log;
    this.#resyncMs = options.resyncMs ?? 30_000;
    this.#restartDelayMs = options.restartDelayMs ?? 1_000;
  }

  /** Opens the watch (idempotent). */
  start(): void {
    if (this.#abort !== undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#watchLoop(abort.signal);
  }

  /** Closes the watch; waiters keep their resync get until their own signal ends them. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#abort = undefined;
    this.#loop = undefined;
  }

  /** Every event of every run; returns the unsubscribe function. */
  onEvent(listener: RunEventListener): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /**
   * Resolves with the run once it is finished (Succeeded, Failed, Cancelled), or undefined when it
   * was deleted (or replaced by another run of the same name) before that. Rejects with
   * `signal.reason` when the signal aborts first.
   */
  waitUntilFinished(ref: RunRef, options: { signal: AbortSignal; uid?: string }): Promise<StoredRun | undefined> {
    const { signal, uid } = options;
    const key = keyOf(ref);
    return new Promise<StoredRun | undefined>((resolve, reject) => {
      let settled = false;
      const listeners = this.#byKey.get(key) ?? new Set<RunEventListener>();
      this.#byKey.set(key, listeners);
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        listeners.delete(listener);
        if (listeners.size === 0 && this.#byKey.get(key) === listeners) this.#byKey.delete(key);
        fn();
      };
      const look = (run: StoredRun, deleted: boolean): void => {
        if (uid !== undefined && run.metadata.uid !== uid) {
          if (!deleted) settle(() => resolve(undefined)); // the name now belongs to another run
          return;
        }
        if (isFinished(run)) settle(() => resolve(run));
        else if (deleted) settle(() => resolve(undefined));
      };
      const listener: RunEventListener = (event) => look(event.object, event.type === 'DELETED');
      const refresh = (): void => {
        this.#runs.get(ref).then(
          (run) => look(run, false),
          (err: unknown) => {
            if (err instanceof NotFoundError) settle(() => resolve(undefined));
            else this.#log.warn({ err, agentRun: key }, 'run read failed while waiting');
          },
        );
      };
      const onAbort = (): void => settle(() => reject(signal.reason));
      const timer = setInterval(refresh, this.#resyncMs);
      timer.unref();
      listeners.add(listener);
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      refresh(); // after subscribing, so no transition can fall between the read and the events
    });
  }

  #dispatch(event: RunEvent): void {
    const key = keyOf(event.object.metadata);
    for (const listener of [...this.#all, ...(this.#byKey.get(key) ?? [])]) {
      try {
        listener(event);
      } catch (err) {
        this.#log.error({ err, agentRun: key }, 'run event listener failed');
      }
    }
  }

  // The shared retrying watch: a restart replays every run, which catches what fell in the gap.
  #watchLoop(signal: AbortSignal): Promise<void> {
    return superviseWatch({
      source: this.#runs,
      onEvent: (event) => this.#dispatch(event),
      signal,
      log: this.#log,
      backoff: { baseMs: this.#restartDelayMs, capMs: Math.max(this.#restartDelayMs, DEFAULT_WATCH_BACKOFF.capMs ?? this.#restartDelayMs) },
    });
  }
}
