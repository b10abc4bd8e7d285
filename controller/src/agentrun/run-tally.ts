// What this node agent's runs did, counted for the metrics endpoint: every change of a run's
// phase or reason, and, when a run ends, its tokens and cost by namespace and model. A RunEvents
// (run-events.ts) in front of the real recorder: the reconciler reports each transition exactly
// once per status write, so counting here counts each run's end once per agent (the sum over
// agents is the cluster's). Pure counting; the Prometheus names live in api-server's metrics.
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { Resource } from '../../../contract/store/store.ts';
import type { RunEvent, RunEvents } from './run-events.ts';
import { noRunEvents } from './run-events.ts';

/** The kinds of tokens the CLI reports. */
export type TokenKind = 'input' | 'output' | 'cache_creation' | 'cache_read';

export interface RunTotals {
  /** Phase or reason changes by namespace, phase and reason, since start. */
  transitions: Array<{ namespace: string; phase: string; reason: string; count: number }>;
  /** Tokens of ended runs by namespace, model and kind, since start. */
  tokens: Array<{ namespace: string; model: string; kind: TokenKind; count: number }>;
  /** Cost in USD of ended runs by namespace and model, since start (the CLI's own figure). */
  costUsd: Array<{ namespace: string; model: string; usd: number }>;
}

/** Runs without a reported model are counted under this one. */
export const UNKNOWN_MODEL = 'unknown';

/** Counts transitions and usage, then hands every event on to `next`. */
export class RunTally implements RunEvents {
  readonly #next: RunEvents;
  readonly #transitions = new Map<string, { namespace: string; phase: string; reason: string; count: number }>();
  readonly #tokens = new Map<string, { namespace: string; model: string; kind: TokenKind; count: number }>();
  readonly #cost = new Map<string, { namespace: string; model: string; usd: number }>();

  constructor(next: RunEvents = noRunEvents) {
    this.#next = next;
  }

  record(run: Resource<AgentRunStatus>, event: RunEvent): void {
    this.#next.record(run, event);
    const namespace = run.metadata.namespace;
    const phase = run.status?.phase ?? 'Pending';
    const transition = `${namespace}\0${phase}\0${event.reason}`;
    const counted = this.#transitions.get(transition) ?? { namespace, phase, reason: event.reason, count: 0 };
    counted.count += 1;
    this.#transitions.set(transition, counted);
    if (!isTerminalPhase(phase)) return;
    const usage = run.status?.usage;
    if (usage === undefined) return;
    const model = usage.model ?? UNKNOWN_MODEL;
    const kinds: Array<[TokenKind, number | undefined]> = [
      ['input', usage.inputTokens],
      ['output', usage.outputTokens],
      ['cache_creation', usage.cacheCreationInputTokens],
      ['cache_read', usage.cacheReadInputTokens],
    ];
    for (const [kind, count] of kinds) {
      if (count === undefined || count === 0) continue;
      const key = `${namespace}\0${model}\0${kind}`;
      const tokens = this.#tokens.get(key) ?? { namespace, model, kind, count: 0 };
      tokens.count += count;
      this.#tokens.set(key, tokens);
    }
    if (usage.costUSD !== undefined && usage.costUSD > 0) {
      const key = `${namespace}\0${model}`;
      const cost = this.#cost.get(key) ?? { namespace, model, usd: 0 };
      cost.usd += usage.costUSD;
      this.#cost.set(key, cost);
    }
  }

  /** A copy of the totals, for a scrape. */
  totals(): RunTotals {
    return {
      transitions: [...this.#transitions.values()].map((t) => ({ ...t })),
      tokens: [...this.#tokens.values()].map((t) => ({ ...t })),
      costUsd: [...this.#cost.values()].map((c) => ({ ...c })),
    };
  }
}
