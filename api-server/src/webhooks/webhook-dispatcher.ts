// Sends an async job's webhook when its run ends. Triggered by the store watch, not by the request
// that created the job, so it also fires for a job whose run ended after the client left, or that
// was cancelled (with status "cancelled"). State is in memory: a run that ended while no facade
// was watching gets no webhook, and pending retries die with the process (docs/compatibility.md).
import type { StoredRun } from '../../../contract/ports.ts';
import { WEBHOOK_ANNOTATION, isApiRun } from '../run-facade/names.ts';
import { isFinished } from '../run-facade/run-view.ts';
import type { FacadeLogger, RunEvent, RunWatcher } from '../run-facade/run-watcher.ts';
import type { WebhookPayload } from '../run-facade/schemas.ts';
import type { DeliveryResult } from './webhook-sender.ts';

export interface WebhookDispatcherOptions {
  watcher: RunWatcher;
  /** Renders the payload of a finished run. */
  payloadOf: (run: StoredRun, signal: AbortSignal) => Promise<WebhookPayload>;
  /** Delivers one payload (with its retries). */
  deliver: (url: URL, payload: WebhookPayload, signal: AbortSignal) => Promise<DeliveryResult>;
  log: FacadeLogger;
  /** Injectable clock (epoch ms). */
  now?: () => number;
}

export class WebhookDispatcher {
  readonly #o: WebhookDispatcherOptions;
  /** Runs seen unfinished by this process: their end is ours to announce. */
  readonly #active = new Set<string>();
  /** Runs whose webhook was started (uid), so replays and resyncs never send twice. */
  readonly #sent = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #abort = new AbortController();
  #unsubscribe: (() => void) | undefined;
  /** Runs that finished before this (whole seconds, as stores write times) were someone else's to announce. */
  #startedAtMs = 0;

  constructor(options: WebhookDispatcherOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#unsubscribe !== undefined) return;
    this.#abort = new AbortController();
    this.#startedAtMs = Math.floor((this.#o.now ?? Date.now)() / 1000) * 1000;
    this.#unsubscribe = this.#o.watcher.onEvent((event) => this.#onEvent(event));
  }

  /** Stops listening and abandons pending retries (they are in memory only). */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** For tests and shutdown: resolves when every delivery started so far has ended. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #onEvent(event: RunEvent): void {
    const run = event.object;
    if (!isApiRun(run)) return;
    const target = run.metadata.annotations?.[WEBHOOK_ANNOTATION];
    if (target === undefined || target === '') return;
    const uid = run.metadata.uid;
    if (!isFinished(run)) {
      if (event.type === 'DELETED') this.#forget(uid);
      else this.#active.add(uid);
      return;
    }
    if (!this.#sent.has(uid) && this.#isOurs(run)) {
      this.#sent.add(uid);
      this.#track(this.#send(run, target));
    }
    if (event.type === 'DELETED') this.#forget(uid);
  }

  #isOurs(run: StoredRun): boolean {
    if (this.#active.has(run.metadata.uid)) return true;
    const completed = Date.parse(run.status?.completionTime ?? '');
    return Number.isFinite(completed) && completed >= this.#startedAtMs;
  }

  #forget(uid: string): void {
    this.#active.delete(uid);
    // Keep #sent for a finished run until its deletion: a late replay must not send again.
    this.#sent.delete(uid);
  }

  #track(delivery: Promise<void>): void {
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }

  async #send(run: StoredRun, target: string): Promise<void> {
    const agentRun = `${run.metadata.namespace}/${run.metadata.name}`;
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      this.#o.log.warn({ agentRun }, 'webhook url unusable');
      return;
    }
    // The URL may carry a token (many receivers put one in the path): only its host is logged.
    const webhookHost = url.host;
    try {
      const payload = await this.#o.payloadOf(run, this.#abort.signal);
      const result = await this.#o.deliver(url, payload, this.#abort.signal);
      if (result.delivered) this.#o.log.info({ agentRun, webhookHost, attempts: result.attempts }, 'webhook delivered');
      else this.#o.log.warn({ agentRun, webhookHost, attempts: result.attempts, status: result.status, error: result.error }, 'webhook not delivered');
    } catch (err) {
      this.#o.log.error({ err, agentRun, webhookHost }, 'webhook delivery failed');
    }
  }
}
