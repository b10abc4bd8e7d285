// The root pino logger: structured lines, constant lowercase messages, camelCase fields, and
// credentials redacted by path wherever they might appear.
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type RootLogger = PinoLogger;

/** Paths never printed, whatever object carries them. */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'value',
  '*.value',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'env.ANTHROPIC_API_KEY',
  'env.CLAUDE_CODE_OAUTH_TOKEN',
  'jwtSecret',
  '*.jwtSecret',
];

export interface LoggerOptions {
  /** Default 'info'; STROMBOLI_LOG_LEVEL overrides. */
  level?: string;
  /** Where lines go. Default: stderr, so stdout stays free for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): RootLogger {
  const level = options.level ?? process.env.STROMBOLI_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: { service: 'stromboli' }, redact: { paths: REDACT_PATHS, censor: '***' } },
    options.destination ?? pino.destination(2),
  );
}
