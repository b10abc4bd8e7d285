// Sessions: list, delete, and the conversation history Claude keeps in each (stromboli.md §1.7,
// §4; checklist items 36-39). Ids are UUIDs: anything else is refused before it reaches a path.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SessionIdSchema } from '../../../contract/apis/v1alpha1/index.ts';
import { NotFoundError, ValidationError, isAppError } from '../../../contract/errors.ts';
import { errorOnlyEnvelope, nullList, successFalse } from '../plugins/envelopes.ts';
import type { HistoryMessage, SessionPort } from '../../../contract/ports.ts';
import { compact } from '../../../contract/compact.ts';
import type { ApiShapes } from '../stromboli/api-version.ts';
import { requestShapes } from '../stromboli/api-version.ts';

/** Stromboli's page size defaults and cap. */
export const DEFAULT_MESSAGE_LIMIT = 50;
export const MAX_MESSAGE_LIMIT = 200;

const ErrorBody = z.object({ error: z.string() });
const SuccessBody = z.object({ success: z.boolean(), session_id: z.string().optional(), error: z.string().optional() });

const SessionListSchema = z
  .object({
    sessions: z
      .union([z.array(z.object({ id: z.string(), title: z.string().describe('The session title, or "" when Claude recorded none.') })), z.array(z.string())])
      .nullable()
      .describe('{id, title} objects (0.5 shapes, the default), or the ids alone for a request in 0.3/0.4 shapes (X-Stromboli-Api-Version).'),
    error: z.string().optional(),
  })
  .describe('Sessions, most recently used first.');

const UsageSchema = z.object({ input_tokens: z.number(), output_tokens: z.number(), cache_creation_input_tokens: z.number(), cache_read_input_tokens: z.number() });
const BlockSchema = z.object({
  type: z.string().describe('text, tool_use, tool_result, …'),
  text: z.string().optional(),
  id: z.string().optional(),
  name: z.string().optional(),
  input: z.record(z.string(), z.unknown()).optional(),
  tool_use_id: z.string().optional(),
  content: z.string().optional().describe('A tool_result as text.'),
  is_error: z.boolean().optional(),
});
export const MessageSchema = z
  .object({
    uuid: z.string().optional(),
    parent_uuid: z.string().optional(),
    type: z.string().describe('user, assistant, system or summary'),
    session_id: z.string().optional(),
    timestamp: z.string().optional(),
    cwd: z.string().optional(),
    git_branch: z.string().optional(),
    version: z.string().optional(),
    permission_mode: z.string().optional(),
    content: z
      .object({
        role: z.string().optional(),
        model: z.string().optional(),
        message_id: z.string().optional(),
        content: z.array(BlockSchema),
        stop_reason: z.string().optional(),
        usage: UsageSchema.optional(),
      })
      .optional(),
    tool_result: z.object({ stdout: z.string().optional(), stderr: z.string().optional(), interrupted: z.boolean().optional(), is_image: z.boolean().optional() }).optional(),
  })
  .describe('A message of the session transcript.');
type MessageBody = z.infer<typeof MessageSchema>;

const MessagesSchema = z.object({ messages: z.array(MessageSchema), total: z.number().int(), offset: z.number().int(), limit: z.number().int(), has_more: z.boolean() });

const IdParams = z.object({ id: z.string().describe('Session id (a UUID).') });
const MessageParams = z.object({ id: z.string().describe('Session id (a UUID).'), message_id: z.string().max(256).describe('The message uuid.') });
const PageQuery = z.object({
  offset: z.string().optional().describe('Default 0; a negative or non-integer value is ignored.'),
  limit: z.string().optional().describe(`Default ${DEFAULT_MESSAGE_LIMIT}, at most ${MAX_MESSAGE_LIMIT} (larger values are clamped); a value < 1 or non-integer is ignored.`),
});

/**
 * The session id of a path: a UUID, lower-cased, to look up; undefined for an id that is safe but
 * can name no session here (sessions are UUIDs), which the routes answer 404 as Stromboli does.
 * An id that could address a path (`/`, `..`, NUL) is a ValidationError with Stromboli's text; no
 * id other than a UUID ever reaches the session port, let alone a path.
 */
function sessionIdOf(raw: string): string | undefined {
  if (raw === '') throw new ValidationError('session ID is required');
  if (raw.includes('/') || raw.includes('..') || raw.includes('\0')) throw new ValidationError('invalid session ID');
  const id = raw.toLowerCase();
  return SessionIdSchema.safeParse(id).success ? id : undefined;
}

/** Stromboli's paging: invalid values are ignored, limit is clamped (checklist item 38). */
export function pageOf(query: { offset?: string | undefined; limit?: string | undefined }): { offset: number; limit: number } {
  const int = (value: string | undefined): number | undefined => (value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : undefined);
  const offset = int(query.offset) ?? 0;
  const asked = int(query.limit);
  const limit = asked === undefined || asked < 1 ? DEFAULT_MESSAGE_LIMIT : Math.min(asked, MAX_MESSAGE_LIMIT);
  return { offset, limit };
}

/** A history message in Stromboli's snake_case. */
export function toMessageBody(m: HistoryMessage): MessageBody {
  return compact({
    uuid: m.uuid,
    parent_uuid: m.parentUuid,
    type: m.type,
    session_id: m.sessionId,
    timestamp: m.timestamp,
    cwd: m.cwd,
    git_branch: m.gitBranch,
    version: m.version,
    permission_mode: m.permissionMode,
    content:
      m.content === undefined
        ? undefined
        : compact({
            role: m.content.role,
            model: m.content.model,
            message_id: m.content.messageId,
            content: m.content.blocks.map((b) =>
              compact({ type: b.type, text: b.text, id: b.id, name: b.name, input: b.input, tool_use_id: b.toolUseId, content: b.content, is_error: b.isError }),
            ),
            stop_reason: m.content.stopReason,
            usage:
              m.content.usage === undefined
                ? undefined
                : {
                    input_tokens: m.content.usage.inputTokens,
                    output_tokens: m.content.usage.outputTokens,
                    cache_creation_input_tokens: m.content.usage.cacheCreationInputTokens,
                    cache_read_input_tokens: m.content.usage.cacheReadInputTokens,
                  },
          }),
    tool_result: m.toolResult === undefined ? undefined : compact({ stdout: m.toolResult.stdout, stderr: m.toolResult.stderr, interrupted: m.toolResult.interrupted, is_image: m.toolResult.isImage }),
  });
}

export interface SessionRoutesOptions {
  sessions: SessionPort;
  /** The answer shapes of a request that names no version (stromboli/api-version.ts). Default 'v0.5'. */
  shapes?: ApiShapes;
}

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/sessions',
    {
      schema: { tags: ['sessions'], summary: 'List sessions', response: { 200: SessionListSchema, 500: SessionListSchema } },
      config: { errorEnvelope: nullList('sessions', 'failed to list sessions') },
    },
    async (request) => {
      const shapes = requestShapes(request.headers, opts.shapes ?? 'v0.5');
      const sessions = await opts.sessions.list();
      return { sessions: shapes === 'v0.3' ? sessions.map((session) => session.id) : sessions };
    },
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: "Delete a session's directory (refused while a run uses it)",
        params: IdParams,
        response: { 200: SuccessBody, 400: SuccessBody, 404: SuccessBody, 409: SuccessBody, 500: SuccessBody },
      },
      config: { errorEnvelope: successFalse('failed to delete session') },
    },
    async (request, reply) => {
      const id = sessionIdOf(request.params.id);
      if (id === undefined) throw new NotFoundError(`session not found: ${request.params.id}`);
      let removed: boolean;
      try {
        removed = await opts.sessions.remove(id);
      } catch (err) {
        if (isAppError(err) && err.code === 'CONFLICT') {
          return reply.code(409).send({ success: false, session_id: id, error: err.message });
        }
        throw err;
      }
      if (!removed) throw new NotFoundError(`session not found: ${id}`);
      return { success: true, session_id: id };
    },
  );

  const historyOf = async (rawId: string): Promise<HistoryMessage[]> => {
    const id = sessionIdOf(rawId);
    const history = id === undefined ? undefined : await opts.sessions.history(id);
    if (history === undefined) throw new NotFoundError(`session history not found: ${id ?? rawId}`);
    return history;
  };

  app.get(
    '/sessions/:id/messages',
    {
      schema: {
        tags: ['sessions'],
        summary: "A page of the session's conversation, from Claude's transcript",
        params: IdParams,
        querystring: PageQuery,
        response: { 200: MessagesSchema, 400: ErrorBody, 404: ErrorBody, 500: ErrorBody },
      },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async (request) => {
      const history = await historyOf(request.params.id);
      const { offset, limit } = pageOf(request.query);
      const messages = history.slice(offset, offset + limit).map(toMessageBody);
      return { messages, total: history.length, offset, limit, has_more: offset + limit < history.length };
    },
  );

  app.get(
    '/sessions/:id/messages/:message_id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'One message of the session, by uuid',
        params: MessageParams,
        response: { 200: z.object({ message: MessageSchema }), 400: ErrorBody, 404: ErrorBody, 500: ErrorBody },
      },
      config: { errorEnvelope: errorOnlyEnvelope },
    },
    async (request) => {
      const history = await historyOf(request.params.id);
      const found = history.find((m) => m.uuid === request.params.message_id);
      if (found === undefined) throw new NotFoundError(`message not found: ${request.params.message_id}`);
      return { message: toMessageBody(found) };
    },
  );
};
