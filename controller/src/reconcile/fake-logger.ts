// A Logger that records lines instead of writing them, for unit tests of anything that takes a
// Logger (the loop here, reconcilers elsewhere). Assert on levels, constant messages and fields.

import type { Logger } from './types.ts';

/** One recorded line; `fields` holds the child bindings merged with the call's fields. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** Records every line, its children's included, in one shared `lines` array. */
export class FakeLogger implements Logger {
  readonly lines: LogLine[];
  readonly #bindings: Record<string, unknown>;

  /** `lines` and `bindings` are for child(); tests call `new FakeLogger()`. */
  constructor(options: { lines?: LogLine[]; bindings?: Record<string, unknown> } = {}) {
    this.lines = options.lines ?? [];
    this.#bindings = { ...options.bindings };
  }

  debug(obj: Record<string, unknown>, msg: string): void {
    this.#record('debug', obj, msg);
  }

  info(obj: Record<string, unknown>, msg: string): void {
    this.#record('info', obj, msg);
  }

  warn(obj: Record<string, unknown>, msg: string): void {
    this.#record('warn', obj, msg);
  }

  error(obj: Record<string, unknown>, msg: string): void {
    this.#record('error', obj, msg);
  }

  child(bindings: Record<string, unknown>): FakeLogger {
    return new FakeLogger({ lines: this.lines, bindings: { ...this.#bindings, ...bindings } });
  }

  /** The recorded lines with this message. */
  withMessage(msg: string): LogLine[] {
    return this.lines.filter((line) => line.msg === msg);
  }

  #record(level: LogLine['level'], obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level, msg, fields: { ...this.#bindings, ...obj } });
  }
}
