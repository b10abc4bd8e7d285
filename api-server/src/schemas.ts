// Response and body schemas shared by route groups. The OpenAPI document is generated from these.
import { z } from 'zod';
import { AgentRunStatusSchema } from '../../contract/apis/v1alpha1/index.ts';

/** An AgentRun as stored: identity and times filled in by the store, status by the controller. */
export const StoredRunSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    generation: z.number(),
    resourceVersion: z.string(),
    creationTimestamp: z.string(),
    deletionTimestamp: z.string().optional(),
    finalizers: z.array(z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.unknown(),
  status: AgentRunStatusSchema.optional(),
});

/** The native API's error body. */
export const ErrorBodySchema = z.object({ code: z.string(), message: z.string() });
