/** Where a command writes: results to `out` (stdout), diagnostics and usage errors to `err`. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}
