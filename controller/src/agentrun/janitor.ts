// The janitor: work done once per store rather than once per run. Today it removes the logs of
// deleted runs once their retention passed; in Kubernetes mode it runs on the leader-elected
// agent only, so the sweep happens once per cluster.
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { ResourceStore } from '../../../contract/store/store.ts';
import type { Logger } from '../reconcile/types.ts';
import type { LogStore } from '../runner/log-store.ts';

/** Options of Janitor; defaults are named. */
export interface JanitorOptions {
  store: Pick<ResourceStore<AgentRunStatus>, 'list'>;
  logs: Pick<LogStore, 'sweep'>;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Logs of runs deleted while no controller ran are kept this long from when the sweep finds them, in ms. */
  retentionMs: number;
  /** Time between sweeps, in ms. Default DEFAULT_SWEEP_MS (1 hour). */
  intervalMs?: number;
  /** Epoch ms now. Default Date.now. */
  now?: () => number;
}

/** How often logs of deleted runs are looked at for removal. */
export const DEFAULT_SWEEP_MS = 60 * 60 * 1000;

/** Sweeps at start and then every intervalMs until stop(). */
export class Janitor {
  readonly #o: JanitorOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: JanitorOptions) {
    this.#o = options;
  }

  /** Sweeps once now, then periodically; a failed periodic sweep is logged and the next one tries again. */
  async start(): Promise<void> {
    await this.sweep();
    this.#timer = setInterval(() => void this.sweep().catch((err: unknown) => this.#o.log.warn({ err }, 'log sweep failed')), this.#o.intervalMs ?? DEFAULT_SWEEP_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One sweep: the logs of runs no longer in the store whose retention passed; returns the run directories removed. */
  async sweep(): Promise<string[]> {
    const live = new Set((await this.#o.store.list()).map((r) => r.metadata.uid));
    const removed = await this.#o.logs.sweep(live, (this.#o.now ?? Date.now)(), this.#o.retentionMs);
    if (removed.length > 0) this.#o.log.info({ count: removed.length }, 'removed logs of deleted runs');
    return removed;
  }
}
