// Reads conmon's k8s-file log (the container's output, written by conmon straight to our state
// directory on the REST path): one record per line, `<RFC3339Nano> stdout|stderr F|P <text>`,
// where P (partial: a line longer than conmon's buffer) is joined with the next record of the
// same stream. Every reader goes through here, and here the text is scrubbed of known secret
// values: conmon writes what the container printed, so nothing is scrubbed before it is kept.
import { scrub } from '../../../contract/redact.ts';

/** The two streams of a container. */
export type K8sStream = 'stdout' | 'stderr';

/** One logical line: partial records joined, scrubbed. */
export interface K8sLine {
  stream: K8sStream;
  text: string;
}

/** Incremental decoder: records in, logical lines out (for readers that follow a growing file). */
export class K8sLogDecoder {
  readonly #partial: Record<K8sStream, string> = { stdout: '', stderr: '' };

  /** Folds one record (a line of the file, without its newline); returns the line it completes, if any. */
  push(record: string): K8sLine | undefined {
    const a = record.indexOf(' ');
    const b = record.indexOf(' ', a + 1);
    if (a < 0 || b < 0) return undefined;
    const stream = record.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') return undefined;
    const c = record.indexOf(' ', b + 1);
    const tag = c < 0 ? record.slice(b + 1) : record.slice(b + 1, c);
    this.#partial[stream] += c < 0 ? '' : record.slice(c + 1);
    if (tag === 'P') return undefined;
    const text = this.#partial[stream];
    this.#partial[stream] = '';
    return { stream, text: scrub(text) };
  }

  /** Partial lines left when the file ended (output that did not end with a newline). */
  flush(): K8sLine[] {
    const out: K8sLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') out.push({ stream, text: scrub(this.#partial[stream]) });
      this.#partial[stream] = '';
    }
    return out;
  }
}

/** The whole file's logical lines by stream. */
export function parseK8sLog(text: string): Record<K8sStream, string[]> {
  const out: Record<K8sStream, string[]> = { stdout: [], stderr: [] };
  const decoder = new K8sLogDecoder();
  for (const record of text.split('\n')) {
    if (record === '') continue;
    const line = decoder.push(record);
    if (line !== undefined) out[line.stream].push(line.text);
  }
  for (const line of decoder.flush()) out[line.stream].push(line.text);
  return out;
}
