// What a node agent does once before its first reconcile: look at the containers it owns and the
// runs it has, so the concurrency limit starts exact after a restart (even after kill -9).
// Running containers of known runs keep their slot (they are adopted by their next reconcile),
// containers whose run is gone are removed, and every unfinished run is put in line. With several
// agents (options.node), only runs nobody claimed or this node's are put in line, and a container
// whose run now names another node or a later attempt (reassigned while this agent was away) is
// removed too: the same pass is the rejoin sweep after a lost Lease comes back.
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { ResourceStore } from '../../../contract/store/store.ts';
import { keyOf, refOf } from '../../../contract/store/store.ts';
import type { Logger } from '../reconcile/types.ts';
import { Labels } from '../runner/names.ts';
import type { AgentRunner } from '../runner/types.ts';
import { parseSpec } from './reconciler.ts';
import type { KnownContainers } from './known-containers.ts';
import type { Slots } from './slots.ts';
import { ownershipOf } from './claims.ts';

/** What seedSlots did, for the start-up log line. */
export interface SeedResult {
  /** Containers of known runs found running (their slots are taken). */
  running: number;
  /** Containers whose run is gone, stopped and removed. */
  orphansRemoved: number;
  /** Containers of runs reassigned to another node or attempt, stopped and removed (with options.node). */
  reassignedRemoved: number;
  /** Unfinished runs put in line for a slot. */
  waiting: number;
}

/** Fills `slots` (and `known`, the agent's containers) from podman and the store, and removes orphan containers; call before the loop starts. */
export async function seedSlots(
  store: Pick<ResourceStore<AgentRunStatus>, 'list'>,
  runner: Pick<AgentRunner, 'listManaged' | 'stop' | 'remove'>,
  slots: Slots,
  log: Pick<Logger, 'warn'>,
  known?: KnownContainers,
  options: { node?: string } = {},
): Promise<SeedResult> {
  const runs = await store.list();
  const byUid = new Map(runs.map((r) => [r.metadata.uid, r]));
  const result: SeedResult = { running: 0, orphansRemoved: 0, reassignedRemoved: 0, waiting: 0 };
  const node = options.node;
  for (const container of await runner.listManaged()) {
    const run = byUid.get(container.labels[Labels.uid] ?? '');
    if (run === undefined) {
      // An orphan: its run is gone (and the state that would have finalized it too).
      log.warn({ container: container.name }, 'removing orphan container');
      if (container.running) await runner.stop(container.name, 10);
      await runner.remove(container.name);
      result.orphansRemoved += 1;
      continue;
    }
    if (node !== undefined && !isStillMine(run.status, container.labels[Labels.attempt], node)) {
      log.warn({ container: container.name, node: run.status?.node }, 'removing the container of a run reassigned while this agent was away');
      if (container.running) await runner.stop(container.name, 10);
      await runner.remove(container.name);
      known?.delete(container.name);
      result.reassignedRemoved += 1;
      continue;
    }
    known?.add(container.name);
    if (container.running) {
      slots.markRunning(keyOf(refOf(run)));
      result.running += 1;
    }
  }
  for (const run of runs) {
    const parsed = parseSpec(run.spec);
    if (parsed.spec === undefined || isTerminalPhase(run.status?.phase)) continue;
    if (node !== undefined && ownershipOf(run.status, node).kind === 'other') continue;
    slots.register(keyOf(refOf(run)), parsed.spec.priority ?? 0, Date.parse(run.metadata.creationTimestamp) || 0);
    result.waiting += 1;
  }
  return result;
}

/** A container of attempt `attempt` still belongs here: its run names this node and that attempt (or is finished, for settle to remove). */
function isStillMine(status: AgentRunStatus | undefined, attempt: string | undefined, node: string): boolean {
  if (ownershipOf(status, node).kind !== 'mine') return false;
  if (isTerminalPhase(status?.phase)) return true;
  return String(Math.max(1, status?.attempt ?? 1)) === (attempt ?? '1');
}
