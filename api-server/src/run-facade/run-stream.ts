// Serves one run as a Stromboli event stream from its persisted log: the lines from a position on
// (a reconnecting client replays nothing twice and loses nothing), then the final event once the
// status says the run is finished. The log, not the container, is the source, so a stream can be
// re-attached at any time while the run goes on.
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import type { RunFacade } from './run-facade.ts';
import { crashInfoOf, failureOf, jobStatusOf, sessionIdOf, usageOf } from './run-view.ts';
import { eventFrame, formatEventId, lineFrame } from './sse.ts';
import type { SseWriter } from './sse.ts';
import { compact } from '../../../contract/compact.ts';

export interface PumpOptions {
  facade: RunFacade;
  logs: LogReader;
  run: StoredRun;
  /** Lines the client already has (from Last-Event-ID); 0 for a new stream. */
  fromLine: number;
  writer: SseWriter;
  /** Aborts when the client leaves or the server shuts down. */
  signal: AbortSignal;
}

/** How a stream ended: with its final event, or cut short (client gone, server closing). */
export type PumpResult = 'finished' | 'interrupted';

/** The `event: done` / `event: error` frame of a finished run (or of one deleted before it finished). */
export function finalFrame(finished: StoredRun | undefined): string {
  if (finished === undefined) return eventFrame('error', 'the run was deleted before it finished');
  const status = jobStatusOf(finished);
  if (status === 'completed' || status === 'crashed') {
    const sessionId = sessionIdOf(finished);
    const structured = finished.status?.structuredOutput;
    const crashInfo = status === 'crashed' ? crashInfoOf(finished) : undefined;
    const usage = usageOf(finished);
    const done = {
      id: finished.metadata.name,
      session_id: sessionId ?? '',
      status,
      ...(structured === undefined || structured === null ? {} : { structured_output: structured }),
      ...compact({ crash_info: crashInfo }),
      ...compact({ usage }),
    };
    return eventFrame('done', JSON.stringify(done));
  }
  if (status === 'cancelled') return eventFrame('error', 'run cancelled');
  return eventFrame('error', failureOf(finished).error);
}

export async function pumpRun(options: PumpOptions): Promise<PumpResult> {
  const { run, writer, signal } = options;
  const name = run.metadata.name;
  let line = options.fromLine;
  const attempt = run.status?.attempt;
  for await (const text of options.logs.lines(run, { follow: true, fromLine: line, signal, ...compact({ attempt }) })) {
    line += 1;
    if (!(await writer.write(lineFrame(text, formatEventId({ name, line }))))) return 'interrupted';
  }
  if (signal.aborted || !writer.open) return 'interrupted';
  let finished: StoredRun | undefined;
  try {
    finished = await options.facade.waitUntilFinished(run, signal);
  } catch {
    return 'interrupted'; // only the signal rejects the wait
  }
  return (await writer.write(finalFrame(finished))) ? 'finished' : 'interrupted';
}
