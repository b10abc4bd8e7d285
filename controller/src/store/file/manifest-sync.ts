// Makes the runs match the manifests of runsDir: which file owns a name, what a spec change
// does to a patched run, when a run is handed over or deleted (docs/file-store.md, "Manifests"
// and "Deletion"). The store feeds it changed files; it writes through the store's host calls.

import { join } from 'node:path';
import { canonicalJson } from '../../../../contract/store/canonical-json.ts';
import type { FileProblem, ProblemReport } from './file-problems.ts';
import { errorText } from './file-problems.ts';
import type { FileStoreSettings } from './file-store-options.ts';
import type { ManifestDoc } from './manifest-file.ts';
import { readManifest } from './manifest-file.ts';
import { compareStrings } from '../../../../contract/store/object-list.ts';
import type { StoredRecord } from './state-records.ts';
import { newRecord } from './state-records.ts';
import type { Resource } from '../../../../contract/store/store.ts';
import { keyOf } from '../../../../contract/store/store.ts';

/** What ManifestSync needs from the store: its records, its problem report and its two writes. */
export interface ManifestSyncHost<S> {
  settings: FileStoreSettings<S>;
  records: ReadonlyMap<string, StoredRecord<S>>;
  problems: ProblemReport;
  /** Persists then publishes `event` (none: persist only). Runs inside the store's serial queue. */
  save(record: StoredRecord<S>, event: 'ADDED' | 'MODIFIED' | undefined): Promise<Resource<S>>;
  /** Deletes the run, or sets its deletionTimestamp while finalizers remain. */
  requestDeletion(record: StoredRecord<S>): Promise<void>;
}

/**
 * The manifest side of FileStore: the last good parse of every file, and the rules that turn a
 * batch of changed files into creates, updates, hand-overs and deletions. Every call must run
 * in the store's serial queue.
 */
export class ManifestSync<S> {
  readonly #host: ManifestSyncHost<S>;
  /** Last good parse of each manifest file (relative path → key → document). */
  readonly #manifests = new Map<string, Map<string, ManifestDoc>>();
  /** Files that exist but cannot be read or parsed: their runs keep their last good spec. */
  readonly #brokenFiles = new Set<string>();

  constructor(host: ManifestSyncHost<S>) {
    this.#host = host;
  }

  /** Relative paths of every file that has declared a run: what a removed folder may have held. */
  knownManifests(): Set<string> {
    const known = new Set(this.#manifests.keys());
    for (const record of this.#host.records.values()) if (record.manifest !== undefined) known.add(record.manifest);
    return known;
  }

  /** Reads every file of the batch first, then syncs each affected name: a rename is a move, not delete + create. */
  async processFiles(rels: Iterable<string>): Promise<void> {
    const { settings: s, records, problems } = this.#host;
    const keys = new Set<string>();
    for (const rel of rels) {
      for (const key of this.#manifests.get(rel)?.keys() ?? []) keys.add(key);
      for (const [key, record] of records) if (record.manifest === rel) keys.add(key);
      const shown = join(s.runsDirShown, rel);
      const read = await readManifest(join(s.runsDir, rel), shown, s);
      if (read.state === 'missing') {
        this.#manifests.delete(rel);
        this.#brokenFiles.delete(rel);
        problems.setFile(rel, []);
        continue;
      }
      if (read.state === 'broken') {
        this.#brokenFiles.add(rel); // its runs keep the last good spec until the file is fixed
        problems.setFile(rel, [{ path: shown, error: read.error }]);
        continue;
      }
      this.#brokenFiles.delete(rel);
      problems.setFile(rel, read.problems);
      const docs = new Map(read.docs.map((doc) => [keyOf(doc), doc]));
      this.#manifests.set(rel, docs);
      for (const key of docs.keys()) keys.add(key);
    }
    for (const key of [...keys].sort()) await this.syncKey(key);
  }

  /** Makes one name match the manifests: create, update, hand over to another file, or delete. */
  async syncKey(key: string): Promise<void> {
    const s = this.#host.settings;
    const candidates = [...this.#manifests.entries()]
      .flatMap(([rel, docs]) => {
        const doc = docs.get(key);
        return doc === undefined ? [] : [{ rel, doc }];
      })
      .sort((a, b) => compareStrings(a.rel, b.rel));
    const record = this.#host.records.get(key);
    let owner: { rel: string; doc: ManifestDoc } | undefined;
    let reason: string;
    if (record !== undefined && record.manifest === undefined) {
      reason = 'already exists (created through the API)';
    } else if (record?.object.metadata.deletionTimestamp !== undefined) {
      reason = 'waits: the run of this name is being deleted and goes once its finalizers are removed';
    } else {
      const held = record?.manifest !== undefined && this.#brokenFiles.has(record.manifest) && !candidates.some((c) => c.rel === record.manifest);
      owner = held ? undefined : (candidates.find((c) => c.rel === record?.manifest) ?? candidates[0]);
      const winner = held ? record?.manifest : owner?.rel;
      reason = `is also declared in ${join(s.runsDirShown, winner ?? '')}, which wins`;
      try {
        if (owner !== undefined) await this.#applyManifest(record, owner.rel, owner.doc);
        else if (record !== undefined && !held) await this.#host.requestDeletion(record);
      } catch (err) {
        // Never stops the other runs: the next change to the file retries.
        s.log.warn({ err, agentRun: key }, 'manifest could not be applied');
        reason = `could not be applied: ${errorText(err)}`;
        owner = undefined;
      }
    }
    const problems = candidates
      .filter((c) => c !== owner)
      .map((c): FileProblem => ({ path: join(s.runsDirShown, c.rel), document: c.doc.document, error: `${key} ${reason}` }));
    this.#host.problems.setKey(key, problems);
  }

  async #applyManifest(record: StoredRecord<S> | undefined, rel: string, doc: ManifestDoc): Promise<void> {
    const host = this.#host;
    if (record === undefined) {
      await host.save(newRecord(host.settings, { ...doc, spec: structuredClone(doc.spec) }, { rel, specHash: doc.specHash }), 'ADDED');
      host.settings.log.info({ agentRun: keyOf(doc), path: join(host.settings.runsDirShown, rel) }, 'run added from manifest');
      return;
    }
    const next = structuredClone(record);
    let changed = false;
    if (doc.specHash !== record.manifestSpecHash) {
      // The file's spec changed: it replaces the stored spec, dropping any patch made through the API.
      if (canonicalJson(doc.spec) !== canonicalJson(record.object.spec)) {
        next.object.spec = structuredClone(doc.spec);
        next.object.metadata.generation += 1;
        changed = true;
      }
      next.manifestSpecHash = doc.specHash;
    }
    for (const field of ['labels', 'annotations'] as const) {
      if (canonicalJson(doc[field] ?? {}) === canonicalJson(record.object.metadata[field] ?? {})) continue;
      const value = doc[field];
      if (value === undefined) delete next.object.metadata[field];
      else next.object.metadata[field] = { ...value };
      changed = true;
    }
    next.manifest = rel;
    if (changed) await host.save(next, 'MODIFIED');
    else if (next.manifest !== record.manifest || next.manifestSpecHash !== record.manifestSpecHash) await host.save(next, undefined);
  }
}
