// The run family's one service: creates API runs, finds and cancels jobs, waits for a run to end,
// and renders runs in Stromboli's shapes. Routes stay thin; this is where "job" means "AgentRun
// created through the Stromboli endpoints" (the source label), in the facade's namespace.
import { TRACEPARENT_ANNOTATION } from '../../../contract/tracing.ts';
import { API_VERSION, KIND } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError, ConflictError, NotFoundError, TransientError } from '../../../contract/errors.ts';
import type { LogReader, RunRef, RunStore, StoredRun } from '../../../contract/ports.ts';
import { SOURCE_API, SOURCE_LABEL, WEBHOOK_ANNOTATION, isApiRun, isFacadeId, newRunName } from './names.ts';
import type { RunKind } from './names.ts';
import { outputOf } from './run-output.ts';
import type { RunRequest } from './run-request.ts';
import { createdAtOf, crashInfoOf, failureOf, isCancelRequested, isFinished, jobStatusOf, sessionIdOf, updatedAtOf, usageOf } from './run-view.ts';
import type { FacadeLogger, RunWatcher } from './run-watcher.ts';
import type { JobResponse, WebhookPayload } from './schemas.ts';
import { compact } from '../../../contract/compact.ts';

export interface RunFacadeOptions {
  runs: RunStore;
  logs: LogReader;
  watcher: RunWatcher;
  /** Namespace of every API-created run. */
  namespace: string;
  /**
   * ttlSecondsAfterFinished of API-created runs: finished jobs disappear this long after they end,
   * as Stromboli's jobs.cleanup_ttl. Default 3600; 0 keeps them (and their logs' index) forever.
   */
  finishedTtlSeconds?: number;
  log: FacadeLogger;
}

/** Stromboli's 409 text for DELETE /jobs/{id} on a finished job (checklist item 28). */
export const CANNOT_CANCEL = 'cannot cancel job (already completed, failed, or cancelled)';
export const JOB_NOT_FOUND = 'job not found';

export class RunFacade {
  readonly #runs: RunStore;
  readonly #logs: LogReader;
  readonly #watcher: RunWatcher;
  readonly #namespace: string;
  readonly #ttl: number;
  readonly #log: FacadeLogger;

  constructor(options: RunFacadeOptions) {
    this.#runs = options.runs;
    this.#logs = options.logs;
    this.#watcher = options.watcher;
    this.#namespace = options.namespace;
    this.#ttl = options.finishedTtlSeconds ?? 3600;
    this.#log = options.log;
  }

  refOf(id: string): RunRef {
    return { namespace: this.#namespace, name: id };
  }

  /**
   * Creates the AgentRun of a request; the name is the id the client gets back. `webhookUrl` and
   * the request's `traceparent` go into annotations (the webhook dispatcher and the node agent read them).
   */
  async create(kind: RunKind, request: RunRequest, extras: { webhookUrl?: string | undefined; traceparent?: string | undefined } = {}): Promise<StoredRun> {
    const { webhookUrl, traceparent } = extras;
    const annotations = {
      ...(webhookUrl === undefined ? {} : { [WEBHOOK_ANNOTATION]: webhookUrl }),
      ...(traceparent === undefined ? {} : { [TRACEPARENT_ANNOTATION]: traceparent }),
    };
    const spec = { ...request.spec, ...(this.#ttl > 0 ? { ttlSecondsAfterFinished: this.#ttl } : {}) };
    for (let attempt = 1; ; attempt++) {
      const name = newRunName(kind);
      try {
        const created = await this.#runs.create({
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: {
            name,
            namespace: this.#namespace,
            labels: { [SOURCE_LABEL]: SOURCE_API },
            ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
          },
          spec,
        });
        if (request.ignoredKeys.length > 0) this.#log.debug({ agentRun: `${this.#namespace}/${name}`, ignoredKeys: request.ignoredKeys }, 'request fields ignored');
        return created;
      } catch (err) {
        // 64 random bits: a taken name is a freak event, answered with another name.
        if (attempt < 3 && err instanceof AppError && err.code === 'ALREADY_EXISTS') continue;
        throw err;
      }
    }
  }

  /** An API-created run by id; anything else (other runs, bad ids) is "job not found". */
  async findJob(id: string): Promise<StoredRun> {
    if (!isFacadeId(id)) throw new NotFoundError(JOB_NOT_FOUND);
    let run: StoredRun;
    try {
      run = await this.#runs.get(this.refOf(id));
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(JOB_NOT_FOUND, { cause: err });
      throw err;
    }
    if (!isApiRun(run)) throw new NotFoundError(JOB_NOT_FOUND);
    return run;
  }

  /** Every API-created run, newest first (Stromboli's order is random). */
  async listJobs(): Promise<StoredRun[]> {
    const runs = await this.#runs.list({ namespace: this.#namespace, labels: { [SOURCE_LABEL]: SOURCE_API } });
    return runs
      .filter(isApiRun)
      .sort((a, b) => Date.parse(b.metadata.creationTimestamp) - Date.parse(a.metadata.creationTimestamp) || (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  /**
   * Sets spec.cancel with the resourceVersion just read, so "not finished" and "cancel" are one
   * atomic step: once this returns, the controller ends the run Cancelled and stops its container.
   */
  async cancelJob(id: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const run = await this.findJob(id);
      if (isFinished(run) || isCancelRequested(run) || run.metadata.deletionTimestamp !== undefined) throw new AppError('CONFLICT', CANNOT_CANCEL);
      try {
        await this.#runs.patchSpec(this.refOf(id), { cancel: true }, run.metadata.resourceVersion);
        this.#log.info({ agentRun: `${this.#namespace}/${id}` }, 'job cancelled');
        return;
      } catch (err) {
        if (err instanceof ConflictError) continue; // the run changed under us: read again
        if (err instanceof NotFoundError) throw new NotFoundError(JOB_NOT_FOUND, { cause: err });
        throw err;
      }
    }
    throw new TransientError('the job kept changing while being cancelled; try again', 1_000);
  }

  /** The run once finished; undefined when it was deleted first. Rejects when `signal` aborts. */
  waitUntilFinished(run: StoredRun, signal: AbortSignal): Promise<StoredRun | undefined> {
    return this.#watcher.waitUntilFinished(this.refOf(run.metadata.name), { signal, uid: run.metadata.uid });
  }

  output(run: StoredRun, signal: AbortSignal): Promise<string | undefined> {
    return outputOf(run, this.#logs, signal);
  }

  async jobResponse(run: StoredRun, signal: AbortSignal): Promise<JobResponse> {
    const status = jobStatusOf(run);
    const output = isFinished(run) ? await this.output(run, signal) : undefined;
    const structured = run.status?.structuredOutput;
    const sessionId = sessionIdOf(run);
    const crashInfo = status === 'crashed' ? crashInfoOf(run) : undefined;
    const usage = usageOf(run);
    return {
      id: run.metadata.name,
      status,
      ...compact({ output }),
      ...(structured === undefined || structured === null ? {} : { structured_output: structured }),
      ...(status === 'failed' ? { error: failureOf(run).error } : {}),
      ...compact({ session_id: sessionId }),
      ...compact({ crash_info: crashInfo }),
      ...compact({ usage }),
      created_at: createdAtOf(run),
      updated_at: updatedAtOf(run),
    };
  }

  async webhookPayload(run: StoredRun, signal: AbortSignal): Promise<WebhookPayload> {
    const job = await this.jobResponse(run, signal);
    return {
      job_id: job.id,
      status: job.status,
      ...compact({ output: job.output }),
      ...compact({ error: job.error }),
      ...compact({ session_id: job.session_id }),
      ...compact({ usage: job.usage }),
      ...compact({ structured_output: job.structured_output }),
      ...compact({ crash_info: job.crash_info }),
    };
  }
}
