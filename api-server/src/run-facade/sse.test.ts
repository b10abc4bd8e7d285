import { describe, expect, it } from 'vitest';
import { eventFrame, formatEventId, lineFrame, parseEventId } from './sse.ts';

describe('event ids', () => {
  it('round-trips <run>:<line>', () => {
    const id = formatEventId({ name: 'run-0123456789abcdef', line: 42 });
    expect(id).toBe('run-0123456789abcdef:42');
    expect(parseEventId(id)).toEqual({ name: 'run-0123456789abcdef', line: 42 });
  });

  it('accepts a bare line number', () => {
    expect(parseEventId(' 7 ')).toEqual({ line: 7 });
  });

  it.each([undefined, '', 'x:y', 'run-zz:1', 'other-0123456789abcdef:1', '-1', '1.5', '9999999999'])('rejects %j', (value) => {
    expect(parseEventId(value)).toBeUndefined();
  });
});

describe('frames', () => {
  it('puts one output line in one data field, with its id', () => {
    expect(lineFrame('{"type":"result"}', 'run-1:3')).toBe('id: run-1:3\ndata: {"type":"result"}\n\n');
  });

  it('never lets CR or LF inside a line end the frame early', () => {
    expect(lineFrame('a\rb\r\nc', 'r:1')).toBe('id: r:1\ndata: a\ndata: b\ndata: c\n\n');
  });

  it('writes done and error events as Stromboli does', () => {
    expect(eventFrame('done', '{"id":"run-1"}')).toBe('event: done\ndata: {"id":"run-1"}\n\n');
    expect(eventFrame('error', 'execution failed: x')).toBe('event: error\ndata: execution failed: x\n\n');
  });
});
