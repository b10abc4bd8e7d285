// Known secret values (credentials the server holds) are scrubbed from what the controller writes
// where a client can read it: status (messages, results, crash tails: agentrun/status.ts) and the
// persisted transcripts and stderr tails the API and `stromboli logs` serve (runner/podman-runner.ts).
// Log lines are redacted by field path (controller/src/log.ts).
// Values are registered at start-up, never printed; secrets reach containers only as podman secrets.

const secretValues = new Set<string>();

/** Registers a value that must never appear in status, logs or answers. Short values are ignored (too likely to collide with ordinary text). */
export function registerSecretValue(value: string | undefined): void {
  if (value !== undefined && value.length >= 8) secretValues.add(value);
}

/** Replaces every registered secret value in `text` with ***. */
export function scrub(text: string): string {
  let out = text;
  for (const value of secretValues) {
    if (out.includes(value)) out = out.split(value).join('***');
  }
  return out;
}

/** For tests: forget every registered value. */
export function clearSecretValues(): void {
  secretValues.clear();
}
