// The per-namespace cap on running AgentRuns across node agents (docs/multi-node.md, "Namespace
// cap"): the annotation stromboli.dev/max-running-runs on a Namespace limits how many of its runs
// the agents together run. Before an agent claims a run it counts the runs of that namespace that
// some agent claimed and that have not finished (one list of the namespace), and claims only
// below the cap. The count and the claim are two requests: agents that claim in the same instant
// may each see room for one more, so with N agents the cap can be exceeded by at most N-1 runs,
// until those end. One agent alone never exceeds it: its count includes the runs it holds a slot
// for, and its own count-then-claim steps for one namespace run one at a time (reconciler.ts).
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { Reasons, isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource, ResourceStore } from '../../../contract/store/store.ts';
import type { StatusChange } from './status.ts';

/** The annotation on a Namespace that caps its running AgentRuns across every agent. */
export const MAX_RUNNING_RUNS_ANNOTATION = 'stromboli.dev/max-running-runs';

/** Reads a namespace's cap; undefined when it sets none (or the agent may not read it). */
export interface NamespaceCaps {
  capOf(namespace: string): Promise<number | undefined>;
}

/** The cap an annotation value sets: a whole number >= 0; anything else sets none. */
export function parseCap(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** The runs that count against the cap: claimed by some agent (status.node) and unfinished, other than `exceptUid`. */
function claimedOthers(runs: readonly Resource<AgentRunStatus>[], exceptUid: string): Resource<AgentRunStatus>[] {
  return runs.filter((r) => r.metadata.uid !== exceptUid && r.status?.node !== undefined && r.status.node !== '' && !isTerminalPhase(r.status.phase));
}

/** How many runs count against the cap (claimedOthers). */
export function countClaimed(runs: readonly Resource<AgentRunStatus>[], exceptUid: string): number {
  return claimedOthers(runs, exceptUid).length;
}

/** What a claim may do under a namespace's cap. */
export type CapDecision = { type: 'claim' } | { type: 'wait'; change: StatusChange };

/** Claim below the cap (or with none); at it, wait Pending with reason NamespaceCapReached. */
export function decideNamespaceCap(input: { namespace: string; cap: number | undefined; claimed: number }): CapDecision {
  if (input.cap === undefined || input.claimed < input.cap) return { type: 'claim' };
  return {
    type: 'wait',
    change: { phase: 'Pending', reason: Reasons.NamespaceCapReached, message: `namespace ${input.namespace} runs ${input.claimed} of its ${input.cap} allowed runs (${MAX_RUNNING_RUNS_ANNOTATION}); waiting` },
  };
}

/**
 * Counts a namespace's claimed runs through the store (one list of the namespace), plus the runs
 * this agent holds a slot for that the list does not show claimed yet (`ownKeys`, namespace/name:
 * its claims in flight, which a cached list may not have seen).
 */
export async function claimedIn(store: Pick<ResourceStore<AgentRunStatus>, 'list'>, namespace: string, exceptUid: string, ownKeys: Iterable<string> = []): Promise<number> {
  const runs = await store.list({ namespace });
  const counted = new Set(claimedOthers(runs, exceptUid).map((r) => r.metadata.name));
  const except = runs.find((r) => r.metadata.uid === exceptUid)?.metadata.name;
  const finished = new Set(runs.filter((r) => isTerminalPhase(r.status?.phase)).map((r) => r.metadata.name));
  for (const key of ownKeys) {
    const slash = key.indexOf('/');
    const name = key.slice(slash + 1);
    if (key.slice(0, slash) === namespace && name !== except && !finished.has(name)) counted.add(name);
  }
  return counted.size;
}

/** Runs the tasks given for one key one after another (others keys in parallel): an agent's count-then-claim per namespace. */
export class OneAtATime {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
