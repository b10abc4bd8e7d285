// AgentRunReconciler: read the run and its container, decide (phases.ts), act through the
// AgentRunner, write the status once. Level-based: it never asks which event brought it here.
import { randomUUID } from 'node:crypto';
import type { AgentRunSpec, AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { AgentRunSpecSchema, Reasons, describeZodError, isTerminalPhase, reasonOf } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError, ConflictError, NotFoundError, TerminalError } from '../../../contract/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../reconcile/types.ts';
import { Labels, containerName } from '../runner/names.ts';
import type { RunIdentity } from '../runner/names.ts';
import type { AgentRunner, AttemptRecord, ObservedContainer } from '../runner/types.ts';
import type { Resource, ResourceStore } from '../../../contract/store/store.ts';
import { refFromKey, refOf } from '../../../contract/store/store.ts';
import { CLEANUP_FINALIZER, conclude, deadlineSeconds, decide } from './phases.ts';
import { claimChange, decideSessionClaim, ownershipOf, resumedSessionOf } from './claims.ts';
import type { SessionHomes } from './session-homes.ts';
import { OneAtATime, claimedIn, decideNamespaceCap } from './namespace-cap.ts';
import type { NamespaceCaps } from './namespace-cap.ts';
import type { Conclusion } from './phases.ts';
import type { KnownContainers } from './known-containers.ts';
import type { Slots } from './slots.ts';
import { attemptFacts, conclusionChange, nextStatus, startFailureText, statusMessage } from './status.ts';
import type { StatusChange } from './status.ts';
import { compact } from '../../../contract/compact.ts';
import { registerSecretValue } from '../../../contract/redact.ts';
import { noPromptSource } from './prompt-source.ts';
import type { PromptSource } from './prompt-source.ts';
import { noRunEvents, transitionEvent } from './run-events.ts';
import { TRACEPARENT_ANNOTATION, noTracing } from '../../../contract/tracing.ts';
import type { Tracing } from '../../../contract/tracing.ts';
import type { RunEvents } from './run-events.ts';

export type AgentRunResource = Resource<AgentRunStatus>;

/** Default pollMs: how often a running container is looked at without events (the log follower wakes the run when it ends). */
export const DEFAULT_POLL_MS = 10_000;
/** Default retryDelayMs: the delay before attempt 2, doubled for each further attempt. */
export const DEFAULT_RETRY_DELAY_MS = 2_000;
/** Default stopGraceSeconds: SIGTERM grace before SIGKILL. */
export const DEFAULT_STOP_GRACE_SECONDS = 10;
/** Default logRetentionMs: how long a deleted run's logs are kept when it sets no TTL (7 days). */
export const DEFAULT_LOG_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** A queued run looks again this often even if no slot frees (the slots wake it when one does). */
export const QUEUED_RECHECK_MS = 60_000;
/** A run this agent may not claim or start now (its Lease is not held) looks again this often. */
export const CLAIM_GATE_RECHECK_MS = 2_000;
/** A resumed run left to its session's home node (or waiting for it), or a run at its namespace's cap, looks again this often. */
export const SESSION_RECHECK_MS = 5_000;

/**
 * Whether this agent may claim or start runs now: in Kubernetes mode, while it holds its node
 * Lease (LeaseKeeper.held). An agent that may not still watches, stops and records its own runs.
 */
export interface ClaimGate {
  mayClaim(): boolean;
  /** True while the agent drains: a run of its own that would start now (a retry) is handed back, unclaimed, instead of waiting. Default: never. */
  releasing?(): boolean;
}

export interface AgentRunReconcilerOptions {
  store: ResourceStore<AgentRunStatus>;
  runner: AgentRunner;
  slots: Slots;
  /** Recorded as status.node. Default: 'local'. */
  node?: string;
  /** How often a running container is looked at when no event arrives. Default DEFAULT_POLL_MS (10 s). */
  pollMs?: number;
  /** Delay before a retried attempt, doubled for each further attempt. Default DEFAULT_RETRY_DELAY_MS (2 s). */
  retryDelayMs?: number;
  /** SIGTERM grace before SIGKILL when stopping a container. Default DEFAULT_STOP_GRACE_SECONDS (10 s). */
  stopGraceSeconds?: number;
  /** How long a deleted run's logs are kept when its spec sets no ttlSecondsAfterFinished. Default DEFAULT_LOG_RETENTION_MS (7 days). */
  logRetentionMs?: number;
  /**
   * The containers this agent has; when given, a run whose container is not known and whose
   * status is not Running (and that is not being cancelled or deleted) is decided without a
   * `podman inspect`. Default: none, every reconcile inspects.
   */
  containers?: KnownContainers;
  /** Where an event goes when a run's phase or reason changes. Default: noRunEvents (the embedded mode has no events API). */
  events?: RunEvents;
  /** Reads the prompt spec.promptFrom names, at start. Default: noPromptSource (no cluster: promptFrom ends InvalidSpec). */
  prompts?: PromptSource;
  /** Spans for each reconcile, children of the trace of the request that created the run (its traceparent annotation). Default: noTracing. */
  tracing?: Tracing;
  /**
   * Several agents share the store (Kubernetes mode, docs/multi-node.md): a run is claimed (a
   * status write naming this node, with the run's resourceVersion) before it is started, while
   * the gate allows; runs naming another node are left alone (this agent's leftover container of
   * one is removed, nothing is written); a conflict means another writer won, and the run is read
   * again at once without noise. Default: none (the embedded mode: this node owns every run).
   */
  claims?: ClaimGate;
  /**
   * With claims: session affinity (docs/multi-node.md). An unclaimed run that resumes or forks a
   * session is claimed only by the agent that holds the session's HOME (or by any, when the
   * sessions directory is shared); when that agent is not alive it waits, reason
   * SessionNodeUnavailable. Default: none (any agent claims it).
   */
  sessionHomes?: SessionHomes;
  /**
   * With claims: the per-namespace cap across agents (stromboli.dev/max-running-runs on the
   * Namespace, namespace-cap.ts). A run is claimed only while its namespace's claimed, unfinished
   * runs are below the cap; otherwise it waits Pending, reason NamespaceCapReached. Default: none.
   */
  namespaceCaps?: NamespaceCaps;
  /** Injectable clock (epoch ms). */
  now?: () => number;
}

type Parsed = { spec: AgentRunSpec; error?: undefined } | { spec?: undefined; error: string };

/** Parses a stored spec; a bad one becomes an error message for a Failed status, never a crash. */
export function parseSpec(spec: unknown): Parsed {
  const parsed = AgentRunSpecSchema.safeParse(spec);
  return parsed.success ? { spec: parsed.data } : { error: `invalid spec: ${describeZodError(parsed.error, 'spec')}` };
}

export function identityOf(run: AgentRunResource): RunIdentity {
  return { namespace: run.metadata.namespace, name: run.metadata.name, uid: run.metadata.uid };
}

export class AgentRunReconciler implements Reconciler {
  readonly #store: ResourceStore<AgentRunStatus>;
  readonly #runner: AgentRunner;
  readonly #slots: Slots;
  readonly #containers: KnownContainers | undefined;
  readonly #node: string;
  readonly #pollMs: number;
  readonly #retryDelayMs: number;
  readonly #grace: number;
  readonly #logRetentionMs: number;
  readonly #now: () => number;
  readonly #events: RunEvents;
  readonly #tracing: Tracing;
  readonly #prompts: PromptSource;
  readonly #claims: ClaimGate | undefined;
  /** Count-then-claim under a namespace cap, one at a time per namespace. */
  readonly #capLocks = new OneAtATime();
  readonly #sessionHomes: SessionHomes | undefined;
  readonly #namespaceCaps: NamespaceCaps | undefined;

  constructor(options: AgentRunReconcilerOptions) {
    this.#store = options.store;
    this.#runner = options.runner;
    this.#slots = options.slots;
    this.#containers = options.containers;
    this.#node = options.node ?? 'local';
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.#grace = options.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;
    this.#logRetentionMs = options.logRetentionMs ?? DEFAULT_LOG_RETENTION_MS;
    this.#now = options.now ?? Date.now;
    this.#events = options.events ?? noRunEvents;
    this.#prompts = options.prompts ?? noPromptSource;
    this.#tracing = options.tracing ?? noTracing;
    this.#claims = options.claims;
    this.#sessionHomes = options.sessionHomes;
    this.#namespaceCaps = options.namespaceCaps;
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (this.#claims === undefined) return this.#reconcile(key, ctx);
    try {
      return await this.#reconcile(key, ctx);
    } catch (err) {
      // Another writer won (an agent's claim, the janitor's fail-over): read again, no noise.
      if (!(err instanceof ConflictError)) throw err;
      ctx.log.debug({ err }, 'lost a write race; reading again');
      return { requeueAfterMs: 0 };
    }
  }

  async #reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    let run: AgentRunResource;
    try {
      run = await this.#store.get(refFromKey(key));
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.#slots.release(key);
        return {};
      }
      throw err;
    }
    const attributes = { 'agentrun.namespace': run.metadata.namespace, 'agentrun.name': run.metadata.name, 'agentrun.uid': run.metadata.uid, 'reconcile.id': ctx.reconcileId, 'agentrun.phase': run.status?.phase };
    return this.#tracing.inSpan('AgentRun reconcile', attributes, () => this.#reconcileRun(key, run, ctx), run.metadata.annotations?.[TRACEPARENT_ANNOTATION]);
  }

  async #reconcileRun(key: string, run: AgentRunResource, ctx: ReconcileContext): Promise<ReconcileResult> {
    const parsed = parseSpec(run.spec);
    const status = run.status;
    const attempt = Math.max(1, status?.attempt ?? 1);
    if (this.#claims !== undefined && ownershipOf(status, this.#node).kind === 'other') return this.#leaveToOther(key, run, attempt, ctx);
    const name = status?.containerName ?? containerName(identityOf(run), attempt);
    const mayExist =
      this.#containers === undefined ||
      this.#containers.has(name) ||
      status?.phase === 'Running' ||
      run.metadata.deletionTimestamp !== undefined ||
      (typeof run.spec === 'object' && run.spec !== null && 'cancel' in run.spec && run.spec.cancel === true);
    const container = mayExist ? await this.#runner.inspect(name) : undefined;
    if (container === undefined) this.#containers?.delete(name);
    else this.#containers?.add(name);
    const action = decide({
      generation: run.metadata.generation,
      deleting: run.metadata.deletionTimestamp !== undefined,
      hasFinalizer: run.metadata.finalizers?.includes(CLEANUP_FINALIZER) ?? false,
      spec: parsed.spec,
      ...compact({ specError: parsed.error }),
      status,
      container,
      now: this.#now(),
      pollMs: this.#pollMs,
    });
    ctx.log.debug({ action: action.type, phase: status?.phase }, 'reconcile decided');

    switch (action.type) {
      case 'finalize':
        return this.#finalize(key, run);
      case 'reject':
        this.#slots.release(key);
        await this.#write(run, { phase: 'Failed', reason: action.reason, message: action.message, completed: true });
        return {};
      case 'settle':
        return this.#settle(key, run, action.removeContainer ? name : undefined, action.recordGeneration, action.ttlDueInMs);
      case 'suspend':
        this.#slots.release(key);
        // Written when the reason changes, or to record a newer generation (kstatus reads it).
        if (reasonOf(status) !== Reasons.Suspended || status?.observedGeneration !== run.metadata.generation) {
          await this.#write(run, { phase: 'Pending', reason: Reasons.Suspended, message: 'spec.suspend is true; the run starts when it is false' });
        }
        return {};
      case 'add-finalizer':
      case 'start': {
        const spec = requireSpec(parsed);
        let current = run;
        if (this.#claims !== undefined) {
          if (!this.#claims.mayClaim()) {
            if (this.#claims.releasing?.() !== true || ownershipOf(status, this.#node).kind !== 'mine') return { requeueAfterMs: CLAIM_GATE_RECHECK_MS };
            this.#slots.forget(key);
            await this.#write(run, { phase: 'Pending', reason: reasonOf(status) ?? Reasons.Pending, message: `node ${this.#node} is draining; left for another node`, node: undefined }, { node: undefined });
            return {};
          }
          if (ownershipOf(status, this.#node).kind !== 'mine') {
            const affinity = await this.#sessionAffinity(run, spec);
            if (affinity !== undefined) return affinity;
            // Under a namespace cap, count and claim one at a time per namespace on this agent, so its own workers never both see room for one.
            const namespace = run.metadata.namespace;
            const cap = await this.#namespaceCaps?.capOf(namespace);
            const claimed = cap === undefined ? await this.#claim(key, run, spec) : await this.#capLocks.run(namespace, async () => (await this.#namespaceCap(run, cap)) ?? this.#claim(key, run, spec));
            if (!('run' in claimed)) return claimed;
            current = claimed.run;
          }
        }
        if (action.type === 'start') return this.#start(key, current, spec, attempt, ctx);
        // Protect the container before it exists, then go on with the updated object (no extra round trip).
        const protectedRun = await this.#store.setFinalizers(refOf(current), [...(current.metadata.finalizers ?? []), CLEANUP_FINALIZER], current.metadata.resourceVersion);
        if (protectedRun === undefined) return {};
        return this.#start(key, protectedRun, spec, attempt, ctx);
      }
      case 'watch':
        this.#slots.markRunning(key);
        this.#runner.follow(identityOf(run), attempt, name);
        if (action.adopt && container !== undefined) {
          ctx.log.info({ container: name }, 'container adopted');
          await this.#write(run, this.#runningFields(run, attempt, name, container));
        }
        return { requeueAfterMs: action.requeueAfterMs };
      case 'deadline':
        await this.#runner.stop(name, this.#grace);
        return this.#recordExit(key, run, requireSpec(parsed), attempt, name, 'deadline');
      case 'cancel':
        return this.#cancel(key, run, requireSpec(parsed), attempt, name, container);
      case 'record-exit':
        return this.#recordExit(key, run, requireSpec(parsed), attempt, name, undefined, container);
      case 'lost':
        return this.#conclude(key, run, attempt, undefined, {
          phase: 'Failed',
          reason: Reasons.ContainerLost,
          message: `container ${name} disappeared while running`,
          retry: attempt <= (requireSpec(parsed).backoffLimit ?? 0),
        });
    }
  }

  /** Takes a slot, then writes the claim (status.node = this node) with the run's resourceVersion; a lost race throws ConflictError (the slot freed). */
  async #claim(key: string, run: AgentRunResource, spec: AgentRunSpec): Promise<{ run: AgentRunResource } | ReconcileResult> {
    const created = Date.parse(run.metadata.creationTimestamp) || 0;
    if (!this.#slots.tryAcquire(key, spec.priority ?? 0, created)) return this.#queued(run);
    try {
      return { run: await this.#write(run, claimChange(this.#node), { node: this.#node }) };
    } catch (err) {
      this.#slots.release(key);
      throw err;
    }
  }

  /**
   * Before claiming a run that resumes a session: undefined to claim it; otherwise it is left to
   * the session's home node (nothing written), or waits for that node (SessionNodeUnavailable,
   * written once per message and generation).
   */
  async #sessionAffinity(run: AgentRunResource, spec: AgentRunSpec): Promise<ReconcileResult | undefined> {
    const homes = this.#sessionHomes;
    const session = resumedSessionOf(spec);
    if (homes === undefined || session === undefined) return undefined;
    const local = homes.shared || (await homes.hasLocal(session));
    const home = local ? undefined : await homes.homeOf(run.metadata.namespace, session, run.metadata.uid);
    const decision = decideSessionClaim({ me: this.#node, session, local, shared: homes.shared, home, homeLive: home === undefined ? undefined : homes.isLive(home) });
    if (decision.type === 'claim') return undefined;
    if (decision.type === 'wait') await this.#writeWaiting(run, decision.change);
    return { requeueAfterMs: SESSION_RECHECK_MS };
  }

  /** Before claiming: undefined to claim; at the namespace's cap, the run waits (NamespaceCapReached, written once per message and generation). */
  async #namespaceCap(run: AgentRunResource, cap: number): Promise<ReconcileResult | undefined> {
    const namespace = run.metadata.namespace;
    const decision = decideNamespaceCap({ namespace, cap, claimed: await claimedIn(this.#store, namespace, run.metadata.uid, this.#slots.holders()) });
    if (decision.type === 'claim') return undefined;
    await this.#writeWaiting(run, decision.change);
    return { requeueAfterMs: SESSION_RECHECK_MS };
  }

  /** A wait an unclaimed run shows: written when its reason, message or generation changes (so the write does not wake it again). */
  async #writeWaiting(run: AgentRunResource, change: StatusChange): Promise<void> {
    const status = run.status;
    if (reasonOf(status) === change.reason && status?.message === statusMessage(change.message) && status.observedGeneration === run.metadata.generation) return;
    await this.#write(run, change);
  }

  /** No free slot: say so on the run (once per reason and generation) and wait for the slots to wake it. */
  async #queued(run: AgentRunResource): Promise<ReconcileResult> {
    const status = run.status;
    if (reasonOf(status) !== Reasons.Queued || status?.observedGeneration !== run.metadata.generation) {
      await this.#write(run, {
        phase: 'Pending',
        reason: Reasons.Queued,
        message: `waiting for a free slot (${this.#slots.running} of ${this.#slots.limit} running)`,
      });
    }
    return { requeueAfterMs: QUEUED_RECHECK_MS };
  }

  /**
   * A run that names another node: never started, stopped or written here. A container of it this
   * agent still has (it was reassigned while this agent was frozen or cut off) is removed.
   */
  async #leaveToOther(key: string, run: AgentRunResource, attempt: number, ctx: ReconcileContext): Promise<ReconcileResult> {
    this.#slots.forget(key);
    for (let a = 1; a <= attempt; a += 1) {
      const name = containerName(identityOf(run), a);
      if (this.#containers?.has(name) !== true) continue;
      ctx.log.info({ container: name, node: run.status?.node }, 'removing the container of a run reassigned to another node');
      await this.#runner.stop(name, this.#grace);
      await this.#runner.remove(name);
      this.#containers?.delete(name);
    }
    return {};
  }

  async #start(key: string, run: AgentRunResource, spec: AgentRunSpec, attempt: number, ctx: ReconcileContext): Promise<ReconcileResult> {
    const status = run.status;
    const created = Date.parse(run.metadata.creationTimestamp) || 0;
    if (!this.#slots.tryAcquire(key, spec.priority ?? 0, created)) return this.#queued(run);
    const name = containerName(identityOf(run), attempt);
    // A fork gets its new id now, so status names it from the start and it can be resumed later.
    const forkFrom = spec.session?.fork === true && spec.session.resume === true ? spec.session.id : undefined;
    const sessionId = status?.sessionId ?? (forkFrom !== undefined ? randomUUID() : spec.session?.id) ?? randomUUID();
    // Known before it exists: a start that fails half-way leaves something the next reconcile must look at.
    this.#containers?.add(name);
    try {
      await this.#runner.start({
        run: identityOf(run),
        attempt,
        containerName: name,
        sessionId,
        resume: spec.session?.resume === true && forkFrom === undefined,
        ...compact({ forkFrom }),
        spec: await this.#resolvePrompt(run, spec),
        deadlineSeconds: deadlineSeconds(spec),
        ...compact({ traceparent: this.#tracing.traceparent() }),
      });
    } catch (err) {
      this.#slots.release(key);
      if (err instanceof TerminalError) {
        await this.#write(run, { phase: 'Failed', reason: err.reason, message: err.message, completed: true, sessionId });
        throw err;
      }
      // Retried with backoff by the loop; the run says why meanwhile. Written only when the reason
      // changes, so the status write does not wake the run again and defeat the backoff.
      const message = `could not start the container yet (retrying): ${startFailureText(err)}`;
      if (status?.message !== statusMessage(message)) {
        await this.#write(run, { phase: 'Pending', reason: Reasons.Pending, message });
      }
      throw err;
    }
    ctx.log.info({ container: name, attempt }, 'container started');
    await this.#write(run, { ...this.#runningFields(run, attempt, name, undefined), sessionId });
    return { requeueAfterMs: Math.min(this.#pollMs, deadlineSeconds(spec) * 1000) };
  }

  /** The spec the runner gets: a promptFrom read into prompt (only there: never status, events or logs). */
  async #resolvePrompt(run: AgentRunResource, spec: AgentRunSpec): Promise<AgentRunSpec> {
    const { promptFrom, ...rest } = spec;
    if (promptFrom === undefined) return spec;
    const prompt = await this.#prompts.read(run.metadata.namespace, promptFrom);
    // A prompt kept in a Secret is secret: scrubbed from results, transcripts and crash tails like a credential.
    if (promptFrom.secretKeyRef !== undefined) registerSecretValue(prompt);
    return { ...rest, prompt };
  }

  #runningFields(run: AgentRunResource, attempt: number, name: string, container: ObservedContainer | undefined): StatusChange {
    return {
      phase: 'Running',
      reason: Reasons.Running,
      message: `container ${name} is running`,
      attempt,
      containerName: name,
      startTime: container?.startedAt ?? new Date(this.#now()).toISOString(),
      logRef: this.#runner.logPath(identityOf(run), attempt),
    };
  }

  async #cancel(key: string, run: AgentRunResource, spec: AgentRunSpec, attempt: number, name: string, container: ObservedContainer | undefined): Promise<ReconcileResult> {
    if (container === undefined) {
      this.#slots.release(key);
      await this.#write(run, { phase: 'Cancelled', reason: Reasons.Cancelled, message: 'cancelled by spec.cancel before it started', completed: true });
      return {};
    }
    if (container.running) await this.#runner.stop(name, this.#grace);
    return this.#recordExit(key, run, spec, attempt, name, 'cancel');
  }

  async #recordExit(
    key: string,
    run: AgentRunResource,
    spec: AgentRunSpec,
    attempt: number,
    name: string,
    stoppedFor: 'cancel' | 'deadline' | undefined,
    observed?: ObservedContainer,
  ): Promise<ReconcileResult> {
    // After a stop the container changed: look again. Otherwise what decide() saw is current.
    const container = observed ?? (await this.#runner.inspect(name));
    if (container === undefined) return { requeueAfterMs: 0 };
    if (!container.finished) return { requeueAfterMs: 1_000 };
    const record = await this.#runner.collect(identityOf(run), attempt, name);
    const conclusion = conclude({ spec, attempt, container, record, ...compact({ stoppedFor }) });
    return this.#conclude(key, run, attempt, { container, record, name }, conclusion);
  }

  async #conclude(
    key: string,
    run: AgentRunResource,
    attempt: number,
    ended: { container: ObservedContainer; record: AttemptRecord; name: string } | undefined,
    conclusion: Conclusion,
  ): Promise<ReconcileResult> {
    const facts = ended === undefined ? {} : attemptFacts(ended.container, ended.record);
    await this.#write(run, conclusionChange(conclusion, attempt, facts));
    this.#slots.release(key);
    if (ended !== undefined) {
      await this.#runner.remove(ended.name);
      this.#containers?.delete(ended.name);
    }
    return conclusion.retry ? { requeueAfterMs: this.#retryDelayMs * 2 ** (attempt - 1) } : {};
  }

  async #settle(key: string, run: AgentRunResource, leftover: string | undefined, recordGeneration: boolean, ttlDueInMs: number | undefined): Promise<ReconcileResult> {
    this.#slots.release(key);
    if (leftover !== undefined) {
      await this.#runner.remove(leftover);
      this.#containers?.delete(leftover);
    }
    if (recordGeneration && run.status !== undefined) {
      await this.#store.updateStatus(refOf(run), { ...run.status, observedGeneration: run.metadata.generation }, run.metadata.resourceVersion);
      return {};
    }
    if (ttlDueInMs === undefined) return {};
    if (ttlDueInMs > 0) return { requeueAfterMs: ttlDueInMs };
    try {
      await this.#store.delete(refOf(run));
    } catch (err) {
      // A user's manifest file cannot be deleted by us: the TTL only applies to runs the store can delete.
      if (err instanceof AppError && err.code === 'FORBIDDEN') return {};
      // Already gone (the janitor, or a user, deleted it first).
      if (err instanceof NotFoundError) return {};
      throw err;
    }
    return {};
  }

  async #finalize(key: string, run: AgentRunResource): Promise<ReconcileResult> {
    this.#slots.release(key);
    const mine = (await this.#runner.listManaged()).filter((c) => c.labels[Labels.uid] === run.metadata.uid);
    for (const c of mine) {
      // Keep what it printed (maybe while no controller ran) before it goes: the logs outlive the run.
      const attempt = Number(c.labels[Labels.attempt] ?? '1') || 1;
      this.#runner.follow(identityOf(run), attempt, c.name);
      if (c.running) await this.#runner.stop(c.name, this.#grace);
      await this.#runner.collect(identityOf(run), attempt, c.name);
      await this.#runner.remove(c.name);
      this.#containers?.delete(c.name);
    }
    // The logs outlive the run: kept for its TTL (or the default retention), then swept.
    const ttl = parseSpec(run.spec).spec?.ttlSecondsAfterFinished;
    await this.#runner.retainLogs(identityOf(run), this.#now() + (ttl === undefined ? this.#logRetentionMs : ttl * 1000));
    const finalizers = (run.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
    if (finalizers.length !== (run.metadata.finalizers ?? []).length) {
      await this.#store.setFinalizers(refOf(run), finalizers, run.metadata.resourceVersion);
    }
    return {};
  }

  /**
   * The single status write of a reconcile; a changed phase or reason is also an event. It names
   * this node, except (with claims) an unfinished run nobody claimed: a Queued or Suspended
   * written for it stays unclaimed, for whichever agent has a slot first.
   */
  async #write(run: AgentRunResource, change: StatusChange, as: { node: string | undefined } = { node: this.#nodeOf(run, change) }): Promise<AgentRunResource> {
    const next = nextStatus(run.status, change, { generation: run.metadata.generation, node: as.node, now: new Date(this.#now()).toISOString() });
    const written = await this.#store.updateStatus(refOf(run), next, run.metadata.resourceVersion);
    const event = transitionEvent(run.status, next);
    if (event !== undefined) this.#events.record(written, event);
    return written;
  }

  #nodeOf(run: AgentRunResource, change: StatusChange): string | undefined {
    if (this.#claims === undefined || isTerminalPhase(change.phase)) return this.#node;
    return ownershipOf(run.status, this.#node).kind === 'mine' ? this.#node : undefined;
  }
}

function requireSpec(parsed: Parsed): AgentRunSpec {
  if (parsed.spec === undefined) throw new TerminalError(Reasons.InvalidSpec, parsed.error);
  return parsed.spec;
}
