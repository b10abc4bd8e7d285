// The edge between the API server's JSON and the store's Resource<S>: every object read from
// a response or a watch event is parsed here, and only the fields of the store's ObjectMeta
// are kept (managedFields, ownerReferences and the rest stay on the server), so the cache and
// the events hold small, plain, typed copies.

import { z } from 'zod';
import { ValidationError } from '../../../../contract/errors.ts';
import type { NewResource, ObjectMeta, Resource } from '../../../../contract/store/store.ts';
import { compact } from '../../../../contract/compact.ts';

/** client-node types timestamps as Date but hands the JSON strings through; accept both, keep RFC 3339. */
const TimestampSchema = z.union([z.string().min(1), z.date().transform((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'))]);
const StringMapSchema = z.record(z.string(), z.string());

/** metadata of a custom object as the API server sends it (the fields the store keeps). */
export const KubeObjectMetaSchema = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    uid: z.string().min(1),
    generation: z.number().int().nonnegative(),
    resourceVersion: z.string().min(1),
    creationTimestamp: TimestampSchema,
    deletionTimestamp: TimestampSchema.optional(),
    finalizers: z.array(z.string()).optional(),
    labels: StringMapSchema.optional(),
    annotations: StringMapSchema.optional(),
  })
  .loose();

/** A namespaced custom object; spec and status are opaque here. */
export const KubeObjectSchema = z
  .object({ apiVersion: z.string().min(1), kind: z.string().min(1), metadata: KubeObjectMetaSchema, spec: z.unknown().optional(), status: z.unknown().optional() })
  .loose();

/** A list answer: its resourceVersion (where a watch starts) and the raw items, parsed one by one. */
export const KubeListSchema = z
  .object({ metadata: z.object({ resourceVersion: z.string().min(1) }).loose(), items: z.array(z.unknown()) })
  .loose();
/** A parsed list answer. */
export type KubeList = z.infer<typeof KubeListSchema>;

/** A metadata-only view, to read a resourceVersion out of a BOOKMARK event. */
export const KubeBookmarkSchema = z.object({ metadata: z.object({ resourceVersion: z.string().min(1) }).loose() }).loose();

/** Checks a status read from the server; throwing makes the object unreadable (the store logs and skips it). */
export type ParseStatus<S> = (value: unknown) => S;

/**
 * An API server object as the store's Resource<S>. Throws ValidationError when the object
 * lacks what every stored custom object has (uid, generation, resourceVersion, ...).
 */
export function parseResource<S>(raw: unknown, parseStatus: ParseStatus<S>): Resource<S> {
  const parsed = KubeObjectSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(`not a custom object: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const { apiVersion, kind, metadata: m, spec, status } = parsed.data;
  const metadata: ObjectMeta = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    generation: m.generation,
    resourceVersion: m.resourceVersion,
    creationTimestamp: m.creationTimestamp,
    ...compact({ deletionTimestamp: m.deletionTimestamp }),
    ...(m.finalizers === undefined || m.finalizers.length === 0 ? {} : { finalizers: [...m.finalizers] }),
    ...(m.labels === undefined ? {} : { labels: { ...m.labels } }),
    ...(m.annotations === undefined ? {} : { annotations: { ...m.annotations } }),
  };
  const resource: Resource<S> = { apiVersion, kind, metadata, spec: structuredClone(spec) };
  if (status !== undefined && status !== null) resource.status = parseStatus(structuredClone(status));
  return resource;
}

/** The body of a create: only what a caller may set (name or generateName, labels, annotations, spec). */
export function toCreateBody(object: NewResource, namespace: string): Record<string, unknown> {
  const { name, generateName, labels, annotations } = object.metadata;
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      namespace,
      ...compact({ name }),
      ...(name === undefined && generateName !== undefined ? { generateName } : {}),
      ...(labels === undefined ? {} : { labels: { ...labels } }),
      ...(annotations === undefined ? {} : { annotations: { ...annotations } }),
    },
    spec: structuredClone(object.spec),
  };
}

/** The equality label selector of list(): "k=v,k2=v2" (label keys and values cannot hold ',' or '='). */
export function toLabelSelector(labels: Record<string, string> | undefined): string | undefined {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return undefined;
  return entries.map(([key, value]) => `${key}=${value}`).join(',');
}
