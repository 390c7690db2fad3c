/**
 * @module cli/io
 * The streams and environment a command runs with, injected so tests capture output
 * (kind's IOStreams). Only bin/podwire.js binds them to the real process.
 */
export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a file as text; defaults to node:fs. */
  readonly readFile?: (path: string) => string;
}

/** A user error: printed as one line, exit code 1. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
