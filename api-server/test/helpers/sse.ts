// Reading an event-stream body in tests: the frames, as a client would see them.

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Splits an event-stream body into frames (blank-line separated), joining multi-line data with "\n". */
export function parseSse(body: string): SseFrame[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = frame.data === undefined ? line.slice(6) : `${frame.data}\n${line.slice(6)}`;
      }
      return frame;
    });
}

/** The frames a client acts on: parseSse without the keep-alive comment blocks. */
export function sseEvents(body: string): SseFrame[] {
  return parseSse(body).filter((frame) => frame.id !== undefined || frame.event !== undefined || frame.data !== undefined);
}
