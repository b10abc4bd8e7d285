// AgentRun objects in every state a run goes through, with the status the controller's own code
// writes: decide() and conclude() (controller/src/agentrun/phases.ts) pick the outcome,
// nextStatus() and attemptFacts() (status.ts, over conditionsFor() in
// contract/apis/v1alpha1/conditions.ts) build the status, with the StatusChange the reconciler
// writes at each step. Nothing here writes a condition by hand, so a change to the conditions
// code shows up in what kstatus and the Argo CD health check say about these objects.
// Used by controller/test/kube/kstatus.int.test.ts and argocd-health.int.test.ts; the expected
// columns are the tables of docs/kubernetes-health.md.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { AgentRunSpec, AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, KIND, Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { CLEANUP_FINALIZER, conclude, decide } from '../../src/agentrun/phases.ts';
import type { Conclusion } from '../../src/agentrun/phases.ts';
import { parseSpec } from '../../src/agentrun/reconciler.ts';
import type { AgentRunResource } from '../../src/agentrun/reconciler.ts';
import { attemptFacts, conclusionChange, nextStatus } from '../../src/agentrun/status.ts';
import type { StatusChange } from '../../src/agentrun/status.ts';
import { containerName } from '../../src/runner/names.ts';
import { summarizeTranscript } from '../../src/runner/stream-json.ts';

/** kstatus's computed status (sigs.k8s.io/cli-utils/pkg/kstatus/status). */
export type KstatusStatus = 'InProgress' | 'Current' | 'Failed' | 'Terminating' | 'Unknown';
/** Argo CD's health status (docs/argocd-health.lua). */
export type ArgoHealth = 'Progressing' | 'Healthy' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

/** One object and what each consumer must make of it. */
export interface AgentRunState {
  /** Short name of the state; also the object's name. */
  readonly name: string;
  readonly object: AgentRunResource;
  readonly kstatus: KstatusStatus;
  readonly argocd: ArgoHealth;
  /** Text Argo CD's message must contain (the reason, or what it waits for). */
  readonly argocdMessage: string;
}

const NODE = 'node-a';
const NAMESPACE = 'health';
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** A run as the API server holds it: identity, a spec, no status yet. */
function freshRun(name: string, spec: Partial<AgentRunSpec> = {}, generation = 1): AgentRunResource {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace: NAMESPACE,
      uid: `uid-${name}`,
      generation,
      resourceVersion: '1',
      creationTimestamp: at(0),
      finalizers: [CLEANUP_FINALIZER],
    },
    spec: { prompt: 'Say hello.', ...spec },
  };
}

/** The reconciler's one status write: nextStatus over the run's current status and generation. */
function write(run: AgentRunResource, change: StatusChange, seconds: number): AgentRunResource {
  const status = nextStatus(run.status, change, { generation: run.metadata.generation, node: NODE, now: at(seconds) });
  return { ...run, metadata: { ...run.metadata, resourceVersion: String(Number(run.metadata.resourceVersion) + 1) }, status };
}

/** A spec edit as the API server applies it: new spec, generation + 1, status untouched. */
function editSpec(run: AgentRunResource, patch: Partial<AgentRunSpec>): AgentRunResource {
  const spec = { ...(run.spec as AgentRunSpec), ...patch };
  return { ...run, spec, metadata: { ...run.metadata, generation: run.metadata.generation + 1, resourceVersion: String(Number(run.metadata.resourceVersion) + 1) } };
}

function specOf(run: AgentRunResource): AgentRunSpec {
  const parsed = parseSpec(run.spec);
  if (parsed.spec === undefined) throw new Error(`${run.metadata.name}: ${parsed.error}`);
  return parsed.spec;
}

/** decide() for a run with no container, as the reconciler calls it. */
function decideFresh(run: AgentRunResource, seconds: number): ReturnType<typeof decide> {
  const parsed = parseSpec(run.spec);
  return decide({
    generation: run.metadata.generation,
    deleting: run.metadata.deletionTimestamp !== undefined,
    hasFinalizer: true,
    spec: parsed.spec,
    ...(parsed.error === undefined ? {} : { specError: parsed.error }),
    status: run.status,
    container: undefined,
    now: T0 + seconds * 1000,
    pollMs: 10_000,
  });
}

function expectAction<T extends ReturnType<typeof decide>['type']>(action: ReturnType<typeof decide>, type: T): Extract<ReturnType<typeof decide>, { type: T }> {
  if (action.type !== type) throw new Error(`decide() chose ${action.type}, expected ${type}`);
  return action as Extract<ReturnType<typeof decide>, { type: T }>;
}

// The writes of reconciler.ts, one helper per StatusChange it builds.
function queued(run: AgentRunResource, seconds: number): AgentRunResource {
  expectAction(decideFresh(run, seconds), 'start');
  return write(run, { phase: 'Pending', reason: Reasons.Queued, message: 'waiting for a free slot (4 of 4 running)' }, seconds);
}

function startPending(run: AgentRunResource, seconds: number): AgentRunResource {
  expectAction(decideFresh(run, seconds), 'start');
  return write(run, { phase: 'Pending', reason: Reasons.Pending, message: 'could not start the container yet (retrying): image store is busy' }, seconds);
}

function started(run: AgentRunResource, seconds: number): AgentRunResource {
  expectAction(decideFresh(run, seconds), 'start');
  const attempt = Math.max(1, run.status?.attempt ?? 1);
  const name = containerName(run.metadata, attempt);
  return write(run, {
    phase: 'Running',
    reason: Reasons.Running,
    message: `container ${name} is running`,
    attempt,
    containerName: name,
    startTime: at(seconds),
    logRef: `/state/logs/${NAMESPACE}/${run.metadata.name}/${run.metadata.uid}/attempt-${attempt}.jsonl`,
    sessionId: run.status?.sessionId ?? `session-${run.metadata.name}`,
  }, seconds);
}

function suspended(run: AgentRunResource, seconds: number): AgentRunResource {
  expectAction(decideFresh(run, seconds), 'suspend');
  return write(run, { phase: 'Pending', reason: Reasons.Suspended, message: 'spec.suspend is true; the run starts when it is false' }, seconds);
}

function rejected(run: AgentRunResource, seconds: number): AgentRunResource {
  const action = expectAction(decideFresh(run, seconds), 'reject');
  return write(run, { phase: 'Failed', reason: action.reason, message: action.message, completed: true }, seconds);
}

function cancelledBeforeStart(run: AgentRunResource, seconds: number): AgentRunResource {
  expectAction(decideFresh(run, seconds), 'cancel');
  return write(run, { phase: 'Cancelled', reason: Reasons.Cancelled, message: 'cancelled by spec.cancel before it started', completed: true }, seconds);
}

const SUCCESS_TRANSCRIPT = [
  { type: 'system', subtype: 'init', session_id: 'session-1', model: 'claude-sonnet-4-5' },
  { type: 'assistant', message: { content: [{ type: 'text', text: 'Hello, world.' }] } },
  { type: 'result', subtype: 'success', is_error: false, result: 'Hello, world.', session_id: 'session-1', total_cost_usd: 0.0123, num_turns: 1, duration_ms: 2100, usage: { input_tokens: 12, output_tokens: 5 } },
].map((line) => JSON.stringify(line)).join('\n');

/** An ended attempt: conclude() decides, the reconciler writes the next attempt or the end. */
function ended(run: AgentRunResource, seconds: number, how: { exitCode: number; transcript: string; stderr?: string; stoppedFor?: 'cancel' | 'deadline' }): AgentRunResource {
  const attempt = run.status?.attempt ?? 1;
  const name = run.status?.containerName ?? containerName(run.metadata, attempt);
  const container = { name, running: false, finished: true, exitCode: how.exitCode, startedAt: run.status?.startTime ?? at(0), finishedAt: at(seconds) };
  const record = { summary: summarizeTranscript(how.transcript), stderrTail: how.stderr ?? '', logPath: '/state/log' };
  const conclusion: Conclusion = conclude({ spec: specOf(run), attempt, container, record, ...(how.stoppedFor === undefined ? {} : { stoppedFor: how.stoppedFor }) });
  const facts = attemptFacts(container, record);
  return write(run, conclusionChange(conclusion, attempt, facts), seconds);
}

const succeed = (run: AgentRunResource, seconds: number): AgentRunResource => ended(run, seconds, { exitCode: 0, transcript: SUCCESS_TRANSCRIPT });
const crash = (run: AgentRunResource, seconds: number): AgentRunResource => ended(run, seconds, { exitCode: 139, transcript: '', stderr: 'Segmentation fault\n' });

function named(run: AgentRunResource, name: string): AgentRunResource {
  return { ...run, metadata: { ...run.metadata, name, uid: `uid-${name}` } };
}

/** Every state of one run's life, each with what kstatus and Argo CD must report. */
export function lifecycleStates(): AgentRunState[] {
  const states: AgentRunState[] = [];
  const add = (object: AgentRunResource, kstatus: KstatusStatus, argocd: ArgoHealth, argocdMessage: string): void => {
    states.push({ name: object.metadata.name, object, kstatus, argocd, argocdMessage });
  };

  // Created, not yet seen by any controller: no status at all. kstatus reads an object without
  // conditions or observedGeneration as Current (its documented fallback); Argo CD waits.
  add(freshRun('not-reconciled'), 'Current', 'Progressing', 'waiting for the controller');

  add(startPending(freshRun('pending'), 1), 'InProgress', 'Progressing', 'Pending');
  add(queued(freshRun('queued'), 1), 'InProgress', 'Progressing', 'Queued');
  const running = started(queued(freshRun('running'), 1), 2);
  add(running, 'InProgress', 'Progressing', 'Running');

  const retryRun = started(freshRun('retrying', { backoffLimit: 1 }), 1);
  const retrying = crash(retryRun, 5);
  add(retrying, 'InProgress', 'Progressing', 'Retrying');
  add(started(named(retrying, 'retrying-attempt-2'), 7), 'InProgress', 'Progressing', 'Running');

  const succeeded = succeed(started(freshRun('succeeded'), 1), 4);
  add(succeeded, 'Current', 'Healthy', 'Succeeded');
  add(crash(started(freshRun('failed-crashed'), 1), 3), 'Failed', 'Degraded', 'Crashed');
  add(crash(started(crash(started(freshRun('failed-after-retry', { backoffLimit: 1 }), 1), 3), 6), 9), 'Failed', 'Degraded', 'Crashed');
  add(rejected(freshRun('failed-invalid-spec', { claude: { maxTurns: 'ten' } } as unknown as Partial<AgentRunSpec>), 1), 'Failed', 'Degraded', 'InvalidSpec');
  add(ended(editSpec(started(freshRun('failed-deadline', { activeDeadlineSeconds: 3 }), 1), {}), 5, { exitCode: 143, transcript: '', stoppedFor: 'deadline' }), 'Failed', 'Degraded', 'DeadlineExceeded');

  // spec.cancel on a running run (a spec edit: generation 2), and a run declared cancelled.
  add(ended(editSpec(started(freshRun('cancelled-running'), 1), { cancel: true }), 4, { exitCode: 143, transcript: '', stoppedFor: 'cancel' }), 'Failed', 'Degraded', 'Cancelled');
  add(cancelledBeforeStart(freshRun('cancelled-before-start', { cancel: true }), 1), 'Failed', 'Degraded', 'Cancelled');

  // spec.suspend holds a run that has not started; kstatus has no "suspended": not Current yet.
  const held = suspended(freshRun('suspended', { suspend: true }), 1);
  add(held, 'InProgress', 'Suspended', 'spec.suspend');
  // Suspended between two attempts: the next attempt waits.
  add(suspended(editSpec(named(retrying, 'suspended-retry'), { suspend: true }), 6), 'InProgress', 'Suspended', 'spec.suspend');
  // Suspend asked, not yet observed by the controller: nothing runs, so Argo CD says Suspended already.
  add(editSpec(named(queued(freshRun('x'), 1), 'suspend-not-observed'), { suspend: true }), 'InProgress', 'Suspended', 'spec.suspend');
  // A running run is not stopped by suspend: it keeps running.
  add(editSpec(named(running, 'running-suspend-set'), { suspend: true }), 'InProgress', 'Progressing', 'generation 2');

  // A spec edit the controller has not observed yet (observedGeneration behind generation).
  add(editSpec(named(succeeded, 'stale-generation'), { prompt: 'Say hello again.' }), 'InProgress', 'Progressing', 'generation 2');
  // ... and once the finished run recorded it (settle writes observedGeneration, nothing reruns).
  const edited = editSpec(named(succeeded, 'finished-generation-recorded'), { prompt: 'Say hello again.' });
  add({ ...edited, status: { ...(edited.status as AgentRunStatus), observedGeneration: edited.metadata.generation } }, 'Current', 'Healthy', 'Succeeded');

  // Deleted while running: the cleanup finalizer holds the object until the container is gone.
  const doomed = named(running, 'deleting');
  add({ ...doomed, metadata: { ...doomed.metadata, deletionTimestamp: at(30) } }, 'Terminating', 'Progressing', CLEANUP_FINALIZER);
  return states;
}

const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', '..', 'examples');
const EXPECTED_PHASE = 'stromboli.dev/expected-phase';
const EXPECTED_REASON = 'stromboli.dev/expected-reason';
/** Failures the runner reports while starting (a TerminalError), before the run is Running. */
const START_REFUSALS = new Set<string>([
  Reasons.VolumeNotAllowed, Reasons.InvalidVolume, Reasons.InvalidWorkdir, Reasons.InvalidImage, Reasons.ImageNotAllowed,
  Reasons.ImageIncompatible, Reasons.ImageNotFound, Reasons.SecretNotFound, Reasons.StartFailed,
]);

/**
 * Every document of examples/*.yaml in the final state it declares (expected-phase and
 * -reason), its status built by the same writes as above (a failed run's last write).
 */
export function exampleStates(): AgentRunState[] {
  const states: AgentRunState[] = [];
  for (const file of readdirSync(EXAMPLES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8'))) {
      const manifest = doc.toJS() as { metadata: { name: string; annotations?: Record<string, string> }; spec: AgentRunSpec } | null;
      if (manifest === null) continue;
      const phase = manifest.metadata.annotations?.[EXPECTED_PHASE];
      const reason = manifest.metadata.annotations?.[EXPECTED_REASON];
      const run = { ...freshRun(`example-${manifest.metadata.name}`), spec: manifest.spec };
      const where = `examples/${file} (${manifest.metadata.name})`;
      let object: AgentRunResource;
      if (phase === 'Succeeded') object = succeed(started(run, 1), 3);
      else if (phase === 'Pending' && reason === Reasons.Suspended) object = suspended(run, 1);
      else if (phase === 'Cancelled') object = cancelledBeforeStart(run, 1);
      else if (phase === 'Failed' && reason !== undefined) {
        // The final write of a failed run; the reasons a start refuses are written before any Running.
        const before = decideFresh(run, 1).type === 'reject' ? undefined : START_REFUSALS.has(reason) ? run : started(run, 1);
        object = before === undefined ? rejected(run, 1) : write(before, { phase: 'Failed', reason, message: `ended ${reason}`, completed: true }, 5);
      } else throw new Error(`${where}: no state for expected phase ${phase ?? '(none)'} / ${reason ?? '(none)'}`);
      if (object.status?.phase !== phase) throw new Error(`${where}: built phase ${object.status?.phase ?? '(none)'}, the example expects ${phase}`);
      const expected: Record<string, [KstatusStatus, ArgoHealth]> = {
        Succeeded: ['Current', 'Healthy'],
        Failed: ['Failed', 'Degraded'],
        Cancelled: ['Failed', 'Degraded'],
        Pending: ['InProgress', 'Suspended'],
      };
      const [kstatus, argocd] = expected[phase] ?? ['Unknown', 'Unknown'];
      states.push({ name: object.metadata.name, object, kstatus, argocd, argocdMessage: reason ?? phase });
    }
  }
  return states;
}
