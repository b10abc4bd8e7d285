// Stubs of the run ports for route tests that do not exercise runs: an empty store and an empty
// log. Behaviourless on purpose (a Stub, not a Fake); tests of the run routes use MemoryStore.
import { NotFoundError } from '../../../contract/errors.ts';
import type { LogReader, RunStore } from '../../../contract/ports.ts';

/** An always-empty run store: lists nothing, finds nothing, refuses writes. */
export function stubRunStore(): RunStore {
  const missing = async (): Promise<never> => {
    throw new NotFoundError('agentrun not found');
  };
  return {
    list: async () => [],
    listPage: async () => ({ items: [] }),
    get: missing,
    create: missing,
    patchSpec: missing,
    delete: missing,
    async *watch() {},
  };
}

/** A log with no lines. */
export function stubLogReader(): LogReader {
  return { async *lines() {} };
}
