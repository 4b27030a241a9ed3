/**
 * Small typed errors with string codes that survive crossing a process (STYLE habit 7).
 * Each transport maps them once: Validation 400, Forbidden 403, NotFound 404,
 * IllegalState 409, Concurrency 412.
 */
export type ErrorCode =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'illegal-state'
  | 'concurrency'
  | 'idempotency-conflict'
  | 'idempotency-in-flight';

export class TrucelineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Machine-readable reason, e.g. 'incident-resolved' or the bad fields. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends TrucelineError {
  constructor(
    message: string,
    readonly fields: { field: string; message: string }[] = [],
  ) {
    super('validation', message, { fields });
  }
}
export class ForbiddenError extends TrucelineError {
  constructor(message: string, reason?: string) {
    super('forbidden', message, reason ? { reason } : undefined);
  }
}
export class NotFoundError extends TrucelineError {
  constructor(message: string) {
    super('not-found', message);
  }
}
/** The incident's state does not allow the command (SPEC §5): 409 with a reason. */
export class IllegalStateError extends TrucelineError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('illegal-state', message, { reason });
  }
}
/** Expected revision did not match: 412 over HTTP, a retry of `decide` inside the services. */
export class ConcurrencyError extends TrucelineError {
  constructor(
    readonly streamId: string,
    readonly expected: string | number,
    readonly actual: number | null,
  ) {
    super(
      'concurrency',
      `stream ${streamId}: expected revision ${expected}, actual ${actual ?? 'none'}`,
      {
        streamId,
        expected,
        actual,
      },
    );
  }
}
