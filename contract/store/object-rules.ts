// The Kubernetes object rules both stores enforce, written once so the fake (MemoryStore) and
// the embedded store (FileStore) cannot drift apart: names, generateName, conflicts on a stale
// resourceVersion, finalizers while deleting, timestamps, and the fields a new object gets.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { Resource, ResourceRef } from './store.ts';
import { keyOf } from './store.ts';

/** Kubernetes' limit on metadata.name; the file store passes a lower one of its own. */
export const KUBERNETES_MAX_NAME_LENGTH = 253;

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_LABEL_ONLY = new RegExp(`^${DNS_LABEL}$`);
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** labels and annotations: string → string, as Kubernetes has them; for parsing them from files. */
export const StringMapSchema = z.record(z.string(), z.string());

/** Why the name or namespace is not valid, or undefined: a manifest reports it, create() throws it. */
export function refProblem(ref: ResourceRef, maxNameLength: number = KUBERNETES_MAX_NAME_LENGTH): string | undefined {
  if (ref.name.length > maxNameLength || !DNS_SUBDOMAIN.test(ref.name)) {
    return `metadata.name "${ref.name}" is not a lowercase RFC 1123 subdomain of at most ${maxNameLength} characters`;
  }
  if (ref.namespace.length > 63 || !DNS_LABEL_ONLY.test(ref.namespace)) {
    return `metadata.namespace "${ref.namespace}" is not a lowercase RFC 1123 label of at most 63 characters`;
  }
  return undefined;
}

/** create()'s name check: throws ValidationError with refProblem's text. */
export function assertValidRef(ref: ResourceRef, maxNameLength: number = KUBERNETES_MAX_NAME_LENGTH): void {
  const invalid = refProblem(ref, maxNameLength);
  if (invalid !== undefined) throw new ValidationError(invalid);
}

/** The error create() throws for a name that is taken, as the API server's 409 AlreadyExists. */
export function alreadyExists(ref: ResourceRef): AppError {
  const { namespace, name } = ref;
  return new AppError('ALREADY_EXISTS', `${namespace}/${name} already exists`, { details: { namespace, name } });
}

/**
 * generateName as Kubernetes does it: at most 58 characters of the prefix, then 5 random ones,
 * drawn again while `isTaken`. Throws ValidationError when there is neither name nor prefix.
 */
export function generateUniqueName(prefix: string | undefined, isTaken: (name: string) => boolean): string {
  if (prefix === undefined || prefix === '') throw new ValidationError('metadata.name or metadata.generateName is required');
  for (;;) {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[Math.floor(Math.random() * SUFFIX_ALPHABET.length)];
    const name = `${prefix.slice(0, 58)}${suffix}`;
    if (!isTaken(name)) return name;
  }
}

/**
 * Every read-for-write goes through this: NotFoundError when `found` is absent, ConflictError
 * when the write carries a `resourceVersion` that is not `current(found)`.
 */
export function requireCurrent<T>(ref: ResourceRef, found: T | undefined, resourceVersion: string | undefined, current: (found: T) => string): T {
  if (found === undefined) throw new NotFoundError(`${keyOf(ref)} not found`);
  const actual = current(found);
  if (resourceVersion !== undefined && resourceVersion !== actual) {
    throw new ConflictError(`${keyOf(ref)} has resourceVersion ${actual}, the write carried ${resourceVersion}`);
  }
  return found;
}

/** As in Kubernetes, an object being deleted may lose finalizers but not gain any. */
export function assertNoNewFinalizersWhileDeleting<S>(object: Resource<S>, finalizers: string[]): void {
  if (object.metadata.deletionTimestamp === undefined) return;
  const existing = new Set(object.metadata.finalizers ?? []);
  const added = finalizers.filter((f) => !existing.has(f));
  if (added.length > 0) {
    throw new ValidationError(`no new finalizers can be added while ${keyOf(object.metadata)} is being deleted: ${added.join(', ')}`);
  }
}

/** Sets the finalizers (a copy); an empty list removes the field, as the API server does. */
export function setFinalizerList<S>(object: Resource<S>, finalizers: string[]): void {
  if (finalizers.length === 0) delete object.metadata.finalizers;
  else object.metadata.finalizers = [...finalizers];
}

/** Seconds precision, as the API server writes timestamps. */
export function toRfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a new object looks like in both stores: a fresh uid, generation 1, labels and annotations copied. */
export function newResource<S>(from: {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
  spec: unknown;
  resourceVersion: string;
  creationTimestamp: string;
}): Resource<S> {
  return {
    apiVersion: from.apiVersion,
    kind: from.kind,
    metadata: {
      name: from.name,
      namespace: from.namespace,
      uid: randomUUID(),
      generation: 1,
      resourceVersion: from.resourceVersion,
      creationTimestamp: from.creationTimestamp,
      ...(from.labels === undefined ? {} : { labels: { ...from.labels } }),
      ...(from.annotations === undefined ? {} : { annotations: { ...from.annotations } }),
    },
    spec: from.spec,
  };
}
