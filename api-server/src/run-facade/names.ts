// Names, labels and annotations of the AgentRuns the Stromboli facade creates. Stromboli's ids
// (`run-<16 hex>`, `job-<16 hex>`) become the AgentRun names, so a client's id is the resource
// name and `kubectl get ar job-…` finds the same thing `GET /jobs/job-…` shows.
import { randomHex } from '../../../contract/random-hex.ts';
import type { StoredRun } from '../../../contract/ports.ts';

/** Marks runs created through the Stromboli endpoints: the `/jobs` family shows these and only these. */
export const SOURCE_LABEL = 'stromboli.dev/source';
export const SOURCE_API = 'api';

/** Where an async job keeps its `webhook_url` (read by the webhook dispatcher when the run ends). */
export const WEBHOOK_ANNOTATION = 'stromboli.dev/webhook-url';

/** Which endpoint made the run: `run-…` for /run and /run/stream, `job-…` for /run/async. */
export type RunKind = 'run' | 'job';

const ID = /^(run|job)-[0-9a-f]{16}$/;

/** A fresh Stromboli-style id; 64 random bits, so a collision is retried rather than prevented. */
export function newRunName(kind: RunKind): string {
  return `${kind}-${randomHex(8)}`;
}

/**
 * True for ids this facade can have minted. Anything else (traversal attempts, other runs' names)
 * is answered "job not found" without touching the store.
 */
export function isFacadeId(id: string): boolean {
  return ID.test(id);
}

/** True when the run came in through the Stromboli endpoints. */
export function isApiRun(run: StoredRun): boolean {
  return run.metadata.labels?.[SOURCE_LABEL] === SOURCE_API && isFacadeId(run.metadata.name);
}
