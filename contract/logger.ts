// The structured logger every part receives, shaped as the subset of pino's Logger the project
// uses (`log(fields, constantMessage)`), so no part but controller/src/log.ts depends on pino.
// Parts that need fewer levels take a Pick of LogSink.

/** The four levels, fields first and a constant lowercase message. */
export interface LogSink {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A LogSink that can bind fields for every later line (pino's child()). */
export interface Logger extends LogSink {
  child(bindings: Record<string, unknown>): Logger;
}
