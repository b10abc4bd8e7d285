// The kubectl-like subcommands (get, logs, apply, delete, cancel): thin HTTP clients of the
// native AgentRun API that `stromboli serve` exposes. Output goes to the given writer; failures
// throw CliError with one clear line.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import type { AgentRunStatus } from '../../contract/apis/v1alpha1/index.ts';
import { API_VERSION, reasonOf } from '../../contract/apis/v1alpha1/index.ts';

/** A failure the CLI reports as one line and a non-zero exit. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface ClientOptions {
  /** Default http://127.0.0.1:8585. */
  server: string;
  namespace: string;
  /** Bearer token, when the server asks for one. */
  token?: string;
  out: (text: string) => void;
}

interface RunView {
  metadata: { name: string; namespace: string; creationTimestamp: string };
  spec: unknown;
  status?: AgentRunStatus;
}

interface RunListView {
  items: RunView[];
  problems: Array<{ path: string; error: string }>;
}

async function call(options: ClientOptions, method: string, path: string, body?: unknown): Promise<Response> {
  const url = new URL(`/apis/${API_VERSION}${path}`, options.server);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new CliError(`cannot reach the stromboli server at ${options.server} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : String(err)}); is 'stromboli serve' running?`);
  }
  if (!response.ok) {
    const text = await response.text();
    let message = text;
    try {
      const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
      message = String(parsed.message ?? parsed.error ?? text);
    } catch {
      // plain-text error body
    }
    throw new CliError(`error: ${message.trim() || `HTTP ${response.status}`}`);
  }
  return response;
}

function age(timestamp: string | undefined, now: number): string {
  if (timestamp === undefined) return '<none>';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** kubectl-style table of runs. */
export function renderTable(runs: RunView[], now: number): string {
  const header = ['NAME', 'PHASE', 'REASON', 'AGE', 'DURATION', 'COST', 'SESSION'];
  const rows = runs.map((r) => {
    const s = r.status;
    // Wall time, as `kubectl get jobs` shows it: from start to completion, or to now while running.
    const started = Date.parse(s?.startTime ?? '');
    const ended = s?.completionTime === undefined ? now : Date.parse(s.completionTime);
    const duration = Number.isFinite(started) && Number.isFinite(ended) ? Math.max(0, ended - started) : undefined;
    return [
      r.metadata.namespace === 'default' ? r.metadata.name : `${r.metadata.namespace}/${r.metadata.name}`,
      s?.phase ?? 'Pending',
      reasonOf(s) ?? '',
      age(r.metadata.creationTimestamp, now),
      duration === undefined ? '' : `${(duration / 1000).toFixed(1)}s`,
      s?.usage?.costUSD === undefined ? '' : `$${s.usage.costUSD.toFixed(4)}`,
      s?.sessionId ?? '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('   ').trimEnd()).join('\n');
}

export async function get(options: ClientOptions, name: string | undefined, output: 'table' | 'json' | 'yaml'): Promise<void> {
  if (name !== undefined) {
    const run = (await (await call(options, 'GET', `/namespaces/${options.namespace}/agentruns/${encodeURIComponent(name)}`)).json()) as RunView;
    if (output === 'json') options.out(`${JSON.stringify(run, null, 2)}\n`);
    else if (output === 'yaml') options.out(stringify(run));
    else options.out(`${renderTable([run], Date.now())}\n`);
    return;
  }
  const list = (await (await call(options, 'GET', '/agentruns')).json()) as RunListView;
  if (output === 'json') {
    options.out(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  if (output === 'yaml') {
    options.out(stringify(list));
    return;
  }
  options.out(list.items.length === 0 ? 'No AgentRuns found.\n' : `${renderTable(list.items, Date.now())}\n`);
  if (list.problems.length > 0) {
    options.out(`\nManifests that could not be read:\n${list.problems.map((p) => `  ${p.path}: ${p.error}`).join('\n')}\n`);
  }
}

export async function logs(options: ClientOptions, name: string, follow: boolean): Promise<void> {
  const response = await call(options, 'GET', `/namespaces/${options.namespace}/agentruns/${encodeURIComponent(name)}/log${follow ? '?follow=true' : ''}`);
  const decoder = new TextDecoder();
  if (response.body === null) return;
  for await (const chunk of response.body) options.out(decoder.decode(chunk, { stream: true }));
}

/** Reads every AgentRun document of a YAML file (multi-document files included). */
export async function readManifests(path: string): Promise<Array<{ metadata: { name: string; namespace?: string } } & Record<string, unknown>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const docs = parseAllDocuments(text);
  const out: Array<{ metadata: { name: string; namespace?: string } } & Record<string, unknown>> = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new CliError(`${path}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const value: unknown = doc.toJS({ maxAliasCount: 50 });
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${path}: a document is not a mapping`);
    const metadata = (value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    if (typeof metadata?.name !== 'string') throw new CliError(`${path}: a document has no metadata.name`);
    out.push(value as { metadata: { name: string; namespace?: string } } & Record<string, unknown>);
  }
  if (out.length === 0) throw new CliError(`${path}: no documents`);
  return out;
}

export async function apply(options: ClientOptions, path: string): Promise<void> {
  for (const manifest of await readManifests(path)) {
    const namespace = manifest.metadata.namespace ?? options.namespace;
    const response = await call(options, 'PUT', `/namespaces/${namespace}/agentruns/${encodeURIComponent(manifest.metadata.name)}`, manifest);
    options.out(`agentrun.stromboli.dev/${manifest.metadata.name} ${response.status === 201 ? 'created' : 'configured'}\n`);
  }
}

export async function remove(options: ClientOptions, name: string): Promise<void> {
  await call(options, 'DELETE', `/namespaces/${options.namespace}/agentruns/${encodeURIComponent(name)}`);
  options.out(`agentrun.stromboli.dev/${name} deleted\n`);
}

export async function cancel(options: ClientOptions, name: string): Promise<void> {
  await call(options, 'POST', `/namespaces/${options.namespace}/agentruns/${encodeURIComponent(name)}/cancel`);
  options.out(`agentrun.stromboli.dev/${name} cancelled\n`);
}
