// The CLI's one error class, in a module of its own so every command can throw it without
// loading another command's imports.

/** A failure the CLI reports as one line and a non-zero exit. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
