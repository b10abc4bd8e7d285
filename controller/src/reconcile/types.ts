// The contract between the generic loop (controller.ts) and a domain reconciler. The loop owns
// queueing, retries, timeouts and logging; a reconciler only reads, decides, acts and says
// when to look again (CR:pkg/reconcile/reconcile.go is the model).

import type { Logger } from '../../../contract/logger.ts';

/** The structured logger every reconcile receives (contract/logger.ts). */
export type { Logger };

/** What a reconciler gets for one attempt; a fresh one per reconcile. */
export interface ReconcileContext {
  /** Fires when the attempt exceeds the loop's timeoutMs or the controller stops; pass it to every I/O call. */
  signal: AbortSignal;
  /** Already bound to `key` and `reconcileId`; log through it rather than building a logger. */
  log: Logger;
  /** Short random id of this attempt, to tie its log lines together. */
  reconcileId: string;
}

/**
 * How a successful reconcile asks to be looked at again. Expected waits (a container still
 * running, a TTL not yet reached) are results, never errors.
 */
export interface ReconcileResult {
  /**
   * Reconcile this key again after this many ms (0 = right away), and reset its failure count.
   * Default: not again until an event or the periodic resync enqueues it.
   */
  requeueAfterMs?: number;
}

/**
 * One level-based reconcile of the object named by `key` ("namespace/name"; see
 * store.ts refFromKey). Read the current state, converge, write status once. The loop reacts to
 * how it ends:
 * - resolves with `requeueAfterMs` → runs again after that delay, failure count reset;
 * - resolves without → failure count reset, runs again on the next event or resync;
 * - throws TerminalError → not retried (the reconciler has recorded Failed on the status);
 * - throws TransientError → runs again after exactly `retryAfterMs`;
 * - throws ConflictError → runs again at once, with backoff if conflicts repeat;
 * - throws anything else → runs again with per-key exponential backoff, forever.
 * Never called twice at once for the same key.
 */
export interface Reconciler {
  reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult>;
}
