// The one abortable sleep: node:timers/promises' setTimeout, resolving (never rejecting) when its
// signal aborts, so a loop that waits between attempts ends at once on shutdown.
import { setTimeout as sleepFor } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts; never rejects for the abort. */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleepFor(ms, undefined, signal === undefined ? {} : { signal });
  } catch (err) {
    if (!(err instanceof Error && err.name === 'AbortError')) throw err;
  }
}
