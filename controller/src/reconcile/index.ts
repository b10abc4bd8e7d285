// The public surface of the reconcile loop: what main.ts wires and what a domain reconciler
// implements. The queue, backoff and retry decision stay internal; fakes are imported by path.

export type { Logger, ReconcileContext, ReconcileResult, Reconciler } from './types.ts';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_RESYNC_MS,
  DEFAULT_STOP_DEADLINE_MS,
  DEFAULT_TIMEOUT_MS,
  RESYNC_PRIORITY,
  runController,
} from './controller.ts';
export type { ControllerHandle, ControllerMetrics, ControllerOptions, ControllerStore } from './controller.ts';
export { DEFAULT_BACKOFF } from '../../../contract/backoff.ts';
export { DEFAULT_WATCH_BACKOFF } from '../../../contract/store/supervised-watch.ts';
export type { BackoffOptions, Jitter } from '../../../contract/backoff.ts';
export { DEFAULT_ERROR_AFTER_FAILURES } from './retry.ts';
export type { ReconcileOutcome } from './retry.ts';
export type { Clock } from './queue.ts';
