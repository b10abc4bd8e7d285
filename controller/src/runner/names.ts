// Deterministic container names and labels: a controller that restarts (even after kill -9)
// finds its containers by label and adopts them instead of starting a run twice.
import { createHash } from 'node:crypto';

/** Label keys put on every container the controller starts. */
export const Labels = {
  managed: 'stromboli.dev/managed',
  namespace: 'stromboli.dev/namespace',
  name: 'stromboli.dev/name',
  uid: 'stromboli.dev/uid',
  attempt: 'stromboli.dev/attempt',
  session: 'stromboli.dev/session',
  /** Which controller instance (state directory or node) owns the container. */
  owner: 'stromboli.dev/owner',
} as const;

export interface RunIdentity {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * `stromboli-<name prefix>-<hash of uid and attempt>`: stable for one attempt of one run,
 * different for a re-created run of the same name, readable in `podman ps`, and valid as a
 * podman name whatever the run name holds.
 */
export function containerName(run: RunIdentity, attempt: number): string {
  const digest = createHash('sha256').update(`${run.uid}/${attempt}`).digest('hex').slice(0, 12);
  const readable = run.name.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40).replace(/^[^a-zA-Z0-9]+/, '');
  return `stromboli-${readable === '' ? 'run' : readable}-${digest}`;
}

export function containerLabels(run: RunIdentity, attempt: number, sessionId: string, owner: string): Record<string, string> {
  return {
    [Labels.managed]: 'true',
    [Labels.namespace]: run.namespace,
    [Labels.name]: run.name,
    [Labels.uid]: run.uid,
    [Labels.attempt]: String(attempt),
    [Labels.session]: sessionId,
    [Labels.owner]: owner,
  };
}
