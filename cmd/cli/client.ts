// The kubectl-like subcommands (get, logs, apply, delete, cancel): thin HTTP clients of the
// native AgentRun API that `stromboli serve` exposes. Output goes to the given writer; failures
// throw CliError with one clear line.
//
// Light on purpose: a client command is a new Node process each time, so this file imports no
// zod schema, no server code and, until -o yaml or apply needs it, no YAML library.
import { readFile } from 'node:fs/promises';
import type { AgentRunStatus } from '../../contract/apis/v1alpha1/agentrun.ts';
import { reasonOf } from '../../contract/apis/v1alpha1/conditions.ts';
import { API_VERSION } from '../../contract/apis/v1alpha1/group-version.ts';
import { CliError } from './cli-error.ts';

export { CliError } from './cli-error.ts';

/** Runs per request of `stromboli get` (kubectl's --chunk-size default); 0 asks for the whole list at once. */
export const DEFAULT_CHUNK_SIZE = 500;

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
  apiVersion: string;
  kind: string;
  /** Only in a paged answer. */
  metadata?: { continue?: string };
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

const HEADER = ['NAME', 'PHASE', 'REASON', 'AGE', 'DURATION', 'COST', 'SESSION'];

function rowOf(r: RunView, now: number): string[] {
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
}

/**
 * Writes table rows, widening `widths` (one per column) to fit them first. Printed a page at a
 * time, a column is as wide as the widest cell seen so far, as kubectl's chunked output is.
 */
function formatRows(rows: readonly string[][], widths: number[]): string {
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('   ').trimEnd()).join('\n');
}

/** kubectl-style table of runs. */
export function renderTable(runs: RunView[], now: number): string {
  return formatRows([HEADER, ...runs.map((r) => rowOf(r, now))], HEADER.map(() => 0));
}

/** Every page of the list, `chunkSize` runs per request (0: one request for everything). */
async function* listPages(options: ClientOptions, chunkSize: number): AsyncGenerator<RunListView> {
  let token: string | undefined;
  do {
    const query = new URLSearchParams();
    if (chunkSize > 0) query.set('limit', String(chunkSize));
    if (token !== undefined) query.set('continue', token);
    const search = query.toString();
    const page = (await (await call(options, 'GET', `/agentruns${search === '' ? '' : `?${search}`}`)).json()) as RunListView;
    yield page;
    // A server without paging answers everything and no metadata: that ends the loop too.
    token = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (token !== undefined);
}

export interface GetOptions {
  output: 'table' | 'json' | 'yaml';
  /** Runs per request when listing. Default DEFAULT_CHUNK_SIZE; 0 = one request. */
  chunkSize?: number;
}

export async function get(options: ClientOptions, name: string | undefined, getOptions: GetOptions): Promise<void> {
  const { output } = getOptions;
  if (name !== undefined) {
    const run = (await (await call(options, 'GET', `/namespaces/${options.namespace}/agentruns/${encodeURIComponent(name)}`)).json()) as RunView;
    if (output === 'json') options.out(`${JSON.stringify(run, null, 2)}\n`);
    else if (output === 'yaml') options.out((await import('yaml')).stringify(run));
    else options.out(`${renderTable([run], Date.now())}\n`);
    return;
  }
  const pages = listPages(options, getOptions.chunkSize ?? DEFAULT_CHUNK_SIZE);
  if (output !== 'table') {
    // One document, as the unpaged answer was: apiVersion, kind, every item, the problems.
    let list: RunListView | undefined;
    for await (const page of pages) {
      list = list === undefined ? page : { ...list, items: [...list.items, ...page.items], problems: page.problems };
    }
    if (list === undefined) return;
    const whole = { apiVersion: list.apiVersion, kind: list.kind, items: list.items, problems: list.problems };
    options.out(output === 'json' ? `${JSON.stringify(whole, null, 2)}\n` : (await import('yaml')).stringify(whole));
    return;
  }
  // The table is printed a page at a time, as the pages arrive.
  const now = Date.now();
  const widths = HEADER.map(() => 0);
  let printed = 0;
  let problems: RunListView['problems'] = [];
  for await (const page of pages) {
    problems = page.problems;
    if (page.items.length === 0) continue;
    const rows = page.items.map((r) => rowOf(r, now));
    options.out(`${formatRows(printed === 0 ? [HEADER, ...rows] : rows, widths)}\n`);
    printed += rows.length;
  }
  if (printed === 0) options.out('No AgentRuns found.\n');
  if (problems.length > 0) {
    options.out(`\nManifests that could not be read:\n${problems.map((p) => `  ${p.path}: ${p.error}`).join('\n')}\n`);
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
  const { parseAllDocuments } = await import('yaml');
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
