import { describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../../contract/errors.ts';
import { buildApp } from '../app.ts';
import type { AppOptions } from '../app.ts';
import { stubLogReader, stubRunStore } from '../../test/helpers/stub-ports.ts';
import type { HistoryMessage, SessionPort } from '../../../contract/ports.ts';
import { pageOf, toMessageBody } from './sessions.ts';

const ID = '5f0c8a9e-3b1d-4e2a-9c47-1d2e3f4a5b6c';
const OTHER = '0b6c3a52-27c4-4b9e-8f1a-6b0f7f3a9d10';
const BUSY = '9d3c1f6e-2a4b-4c8d-9e0f-1a2b3c4d5e6f';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function message(n: number): HistoryMessage {
  return { type: n % 2 === 0 ? 'user' : 'assistant', uuid: `m-${n}`, sessionId: ID, content: { role: 'user', blocks: [{ type: 'text', text: `turn ${n}` }] } };
}

/** In-memory sessions with the port's contract (UUID ids, 409 while in use). */
class FakeSessions implements SessionPort {
  readonly dirs = new Map<string, { title: string; history?: HistoryMessage[] }>();
  broken = false;
  async list() {
    if (this.broken) throw new Error('disk on fire');
    return [...this.dirs].map(([id, s]) => ({ id, title: s.title }));
  }
  async remove(id: string) {
    if (!UUID.test(id)) throw new ValidationError('invalid session id');
    if (!this.dirs.has(id)) return false;
    if (id === BUSY) throw new ConflictError('session is in use by a run that has not finished');
    this.dirs.delete(id);
    return true;
  }
  async history(id: string) {
    if (!UUID.test(id)) throw new ValidationError('invalid session id');
    return this.dirs.get(id)?.history;
  }
}

async function setup(options: AppOptions = {}) {
  const sessions = new FakeSessions();
  sessions.dirs.set(ID, { title: 'Fix the flaky test', history: Array.from({ length: 120 }, (_, i) => message(i)) });
  sessions.dirs.set(OTHER, { title: '' });
  sessions.dirs.set(BUSY, { title: 'busy' });
  const app = await buildApp({ runs: stubRunStore(), logs: stubLogReader(), sessions }, options);
  return { app, sessions };
}

describe('GET /sessions', () => {
  it('lists {id, title} objects (the v0.5.7 shape)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/sessions' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sessions: [{ id: ID, title: 'Fix the flaky test' }, { id: OTHER, title: '' }, { id: BUSY, title: 'busy' }] });
  });

  it('lists the ids alone for a client that asks for the 0.3/0.4 shapes, by header or by the server setting', async () => {
    const { app } = await setup();
    const old = await app.inject({ method: 'GET', url: '/sessions', headers: { 'x-stromboli-api-version': '0.3.0-alpha' } });
    expect(old.json()).toEqual({ sessions: [ID, OTHER, BUSY] });
    const legacy = await setup({ apiShapes: 'v0.3' });
    expect((await legacy.app.inject({ method: 'GET', url: '/sessions' })).json()).toEqual({ sessions: [ID, OTHER, BUSY] });
    const asked = await legacy.app.inject({ method: 'GET', url: '/sessions', headers: { 'x-stromboli-api-version': '0.5.7' } });
    expect(asked.json()).toEqual({ sessions: [{ id: ID, title: 'Fix the flaky test' }, { id: OTHER, title: '' }, { id: BUSY, title: 'busy' }] });
  });

  it('answers 400 in the list envelope for a version it does not answer', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/sessions', headers: { 'x-stromboli-api-version': '2.0' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ sessions: null, error: 'unsupported Stromboli API version "2.0": this server answers the shapes of 0.3, 0.4 and 0.5' });
  });

  it('lists an empty array, not null, when there are none', async () => {
    const { app, sessions } = await setup();
    sessions.dirs.clear();
    expect((await app.inject({ method: 'GET', url: '/sessions' })).json()).toEqual({ sessions: [] });
  });

  it('answers 500 {"sessions":null,"error"} without the internal error text', async () => {
    const { app, sessions } = await setup();
    sessions.broken = true;
    const res = await app.inject({ method: 'GET', url: '/sessions' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ sessions: null, error: 'failed to list sessions' });
  });
});

describe('DELETE /sessions/{id}', () => {
  it('deletes and answers {"success":true,"session_id"}', async () => {
    const { app, sessions } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${ID}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, session_id: ID });
    expect(sessions.dirs.has(ID)).toBe(false);
  });

  it('answers 404 with Stromboli body for an unknown session (checklist item 37)', async () => {
    const { app } = await setup();
    const missing = 'ffffffff-ffff-4fff-8fff-ffffffffffff';
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${missing}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ success: false, error: `session not found: ${missing}` });
  });

  it.each([['..%2F..%2Fetc'], ['a%00b'], ['%2E%2E%2F'], ['a..b']])('refuses the id %s, which could address a path, with 400 "invalid session ID"', async (raw) => {
    const { app, sessions } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${raw}` });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ success: false, error: 'invalid session ID' });
    expect(sessions.dirs.size).toBe(3);
  });

  it.each([['not-a-uuid'], ['my_session.1'], ['ffffffff-ffff-4fff-8fff']])('answers 404 "session not found" for the well-formed id %s that names no session, as Stromboli does', async (raw) => {
    const { app, sessions } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${raw}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ success: false, error: `session not found: ${raw}` });
    expect(sessions.dirs.size).toBe(3);
  });

  it.each([['..'], ['%2E%2E']])('never reaches the handler for the dot segment %s (the URL is normalized first)', async (raw) => {
    const { app, sessions } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${raw}` });
    expect(res.statusCode).toBe(404);
    expect(sessions.dirs.size).toBe(3);
  });

  it('answers 400 "session ID is required" for an empty id', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'DELETE', url: '/sessions/' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ success: false, error: 'session ID is required' });
  });

  it('accepts an upper-case UUID as the same session', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${ID.toUpperCase()}` });
    expect(res.json()).toEqual({ success: true, session_id: ID });
  });

  it('refuses with 409 while a run uses the session', async () => {
    const { app, sessions } = await setup();
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${BUSY}` });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ success: false, session_id: BUSY, error: 'session is in use by a run that has not finished' });
    expect(sessions.dirs.has(BUSY)).toBe(true);
  });
});

describe('GET /sessions/{id}/messages', () => {
  it('pages with offset 0 and limit 50 by default', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/sessions/${ID}/messages` });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ messages: Array<{ uuid: string }>; total: number; offset: number; limit: number; has_more: boolean }>();
    expect(body).toMatchObject({ total: 120, offset: 0, limit: 50, has_more: true });
    expect(body.messages).toHaveLength(50);
    expect(body.messages[0]).toEqual({ uuid: 'm-0', type: 'user', session_id: ID, content: { role: 'user', content: [{ type: 'text', text: 'turn 0' }] } });
  });

  it('clamps limit to 200 and reports the end (checklist item 38)', async () => {
    const { app } = await setup();
    const body = (await app.inject({ method: 'GET', url: `/sessions/${ID}/messages?offset=100&limit=500` })).json<{ messages: unknown[]; limit: number; has_more: boolean }>();
    expect(body.limit).toBe(200);
    expect(body.messages).toHaveLength(20);
    expect(body.has_more).toBe(false);
  });

  it('ignores invalid offset and limit instead of answering 400', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/sessions/${ID}/messages?offset=-3&limit=abc` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ offset: 0, limit: 50 });
  });

  it('answers an empty page past the end', async () => {
    const { app } = await setup();
    expect((await app.inject({ method: 'GET', url: `/sessions/${ID}/messages?offset=500` })).json()).toMatchObject({ messages: [], total: 120, offset: 500, has_more: false });
  });

  it('answers 404 "session history not found" for a session without a transcript', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/sessions/${OTHER}/messages` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: `session history not found: ${OTHER}` });
  });

  it('answers 400 for an id that could address a path', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/sessions/..%2F..%2Fetc/messages' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid session ID' });
  });

  it('answers 404 "session history not found" for a well-formed id that is not a UUID, on both history endpoints', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/sessions/not-a-uuid/messages' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'session history not found: not-a-uuid' });
    const one = await app.inject({ method: 'GET', url: '/sessions/not-a-uuid/messages/m-1' });
    expect(one.statusCode).toBe(404);
    expect(one.json()).toEqual({ error: 'session history not found: not-a-uuid' });
  });
});

describe('GET /sessions/{id}/messages/{message_id}', () => {
  it('answers the message wrapped in {"message"} (checklist item 39)', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/sessions/${ID}/messages/m-7` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: toMessageBody(message(7)) });
  });

  it('answers 404 "message not found"', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: `/sessions/${ID}/messages/nope` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'message not found: nope' });
  });

  it('answers 404 "session history not found" when the session has none', async () => {
    const { app } = await setup();
    expect((await app.inject({ method: 'GET', url: `/sessions/${OTHER}/messages/m-1` })).json()).toEqual({ error: `session history not found: ${OTHER}` });
  });
});

describe('toMessageBody', () => {
  it("renames every field to Stromboli's snake_case and omits absent ones", () => {
    expect(
      toMessageBody({
        type: 'assistant',
        uuid: 'u2',
        parentUuid: 'u1',
        sessionId: ID,
        timestamp: '2026-11-29T14:02:19.877Z',
        cwd: '/workspace',
        gitBranch: 'main',
        version: '2.1.332',
        permissionMode: 'acceptEdits',
        content: {
          role: 'assistant',
          model: 'claude-sonnet-5-5',
          messageId: 'msg_1',
          blocks: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }, { type: 'tool_result', toolUseId: 'toolu_1', content: 'a\nb', isError: false }],
          stopReason: 'end_turn',
          usage: { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 3, cacheReadInputTokens: 4 },
        },
        toolResult: { stdout: 'a', stderr: '', interrupted: false, isImage: false },
      }),
    ).toEqual({
      uuid: 'u2',
      parent_uuid: 'u1',
      type: 'assistant',
      session_id: ID,
      timestamp: '2026-11-29T14:02:19.877Z',
      cwd: '/workspace',
      git_branch: 'main',
      version: '2.1.332',
      permission_mode: 'acceptEdits',
      content: {
        role: 'assistant',
        model: 'claude-sonnet-5-5',
        message_id: 'msg_1',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'a\nb', is_error: false },
        ],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 3, cache_read_input_tokens: 4 },
      },
      tool_result: { stdout: 'a', stderr: '', interrupted: false, is_image: false },
    });
  });
});

describe('pageOf', () => {
  it.each([
    [{}, { offset: 0, limit: 50 }],
    [{ offset: '10', limit: '5' }, { offset: 10, limit: 5 }],
    [{ offset: '1.5', limit: '0' }, { offset: 0, limit: 50 }],
    [{ limit: '201' }, { offset: 0, limit: 200 }],
    [{ offset: '99999999999999' }, { offset: 0, limit: 50 }],
  ])('reads %j as %j', (query, expected) => {
    expect(pageOf(query)).toEqual(expected);
  });
});
