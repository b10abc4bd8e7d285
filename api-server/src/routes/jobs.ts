// Stromboli's /jobs: the AgentRuns created through the Stromboli endpoints, shown as jobs. Unlike
// Stromboli, cancel is final and stops the container (spec.cancel; the controller does the rest).
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RunFacade } from '../run-facade/run-facade.ts';
import { JobCancelSchema, JobIdParamsSchema, JobListSchema, JobResponseSchema, RunResponseSchema, runFamilyEnvelope } from '../run-facade/schemas.ts';

export interface JobRoutesOptions {
  facade: RunFacade;
  /** Aborted when the server begins to close (ends log reads for outputs). */
  shutdown: AbortSignal;
}

export const jobRoutes: FastifyPluginAsync<JobRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const config = { errorEnvelope: runFamilyEnvelope };

  app.get(
    '/jobs',
    {
      config,
      schema: {
        tags: ['jobs'],
        summary: 'List jobs',
        description: 'Every run created through /run, /run/async and /run/stream, newest first; finished ones disappear an hour after they end.',
        response: { 200: JobListSchema },
      },
    },
    async () => {
      const runs = await opts.facade.listJobs();
      const jobs = [];
      // One at a time: an output may come from a log file, and a long list should not open them all at once.
      for (const run of runs) jobs.push(await opts.facade.jobResponse(run, opts.shutdown));
      return { jobs };
    },
  );

  app.get(
    '/jobs/:id',
    {
      config,
      schema: {
        tags: ['jobs'],
        summary: 'Get a job',
        params: JobIdParamsSchema,
        response: { 200: JobResponseSchema, 404: RunResponseSchema },
      },
    },
    async (request) => opts.facade.jobResponse(await opts.facade.findJob(request.params.id), opts.shutdown),
  );

  app.delete(
    '/jobs/:id',
    {
      config,
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job',
        description: 'Final: the run ends cancelled and its container is stopped. 409 when the job has already finished or was cancelled.',
        params: JobIdParamsSchema,
        response: { 200: JobCancelSchema, 404: RunResponseSchema, 409: RunResponseSchema, 503: RunResponseSchema },
      },
    },
    async (request) => {
      await opts.facade.cancelJob(request.params.id);
      return { cancelled: true, job_id: request.params.id };
    },
  );
};
