import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ValidationError } from '@truceline/domain';
import { parseTraceparent } from '@truceline/messaging';
import type { CommandContext } from '@truceline/workflows';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticatedRequest } from '../auth/auth.guard';
import { HEADER_TOKEN } from './patterns';
import { FieldError } from './validation';

/** IF_MATCH of the OpenAPI document, less `*`, with the revision captured. */
const REVISION = /^(?:W\/)?(?:"([0-9]{1,15})"|([0-9]{1,15}))$/;

/**
 * `If-Match: "<revision>"` → the revision the client last saw (SPEC §6: stale → 412).
 * Also takes a weak or unquoted revision; `*` (any revision) means no check.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = REVISION.exec(header.trim());
  if (!match) {
    throw new ValidationError('invalid If-Match header', [
      { field: 'If-Match', message: 'If-Match must be one revision in quotes, e.g. "3"' },
    ]);
  }
  return Number(match[1] ?? match[2]);
}

/**
 * The command context of a request, less `occurredAt`, which comes from the validated body.
 * `ifMatch: false` for a route that appends to no incident (it neither reads nor documents it).
 */
export function commandContextOf(
  headers: IncomingHttpHeaders,
  actor: CommandContext['actor'],
  requestId?: string,
  { ifMatch = true } = {},
): CommandContext {
  const problems: FieldError[] = [];
  const token = (name: string): string | undefined => {
    const value = headers[name.toLowerCase()];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && HEADER_TOKEN.test(value)) return value;
    problems.push({ field: name, message: `${name} must be 1 to 200 visible ASCII characters` });
    return undefined;
  };
  const idempotencyKey = token('Idempotency-Key');
  const correlationId = token('X-Correlation-Id') ?? requestId;
  // W3C Trace Context: an invalid traceparent starts a new trace; it never fails the request.
  const traceparent = typeof headers.traceparent === 'string' ? headers.traceparent : undefined;
  const trace = parseTraceparent(traceparent) ? traceparent : undefined;
  let expectedRevision: number | undefined;
  try {
    if (ifMatch) expectedRevision = parseIfMatch(headers['if-match']);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    problems.push(...error.fields);
  }
  if (problems.length > 0) {
    throw new ValidationError(
      `invalid headers: ${problems.map((p) => p.field).join(', ')}`,
      problems,
    );
  }
  return {
    actor,
    ...(idempotencyKey !== undefined && { idempotencyKey }),
    ...(expectedRevision !== undefined && { expectedRevision }),
    ...(correlationId !== undefined && { correlationId }),
    ...(trace !== undefined && { traceparent: trace.trim().toLowerCase() }),
  };
}

/**
 * `Idempotency-Key`, `If-Match`, `X-Correlation-Id` and the verified actor of a command;
 * `@CommandHeaders({ ifMatch: false })` on a route that appends to no incident.
 */
export const CommandHeaders = createParamDecorator(
  (options: { ifMatch?: boolean } | undefined, context: ExecutionContext): CommandContext => {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest & { id?: string }>();
    if (!request.actor) throw new Error('CommandHeaders used on a route without authentication');
    return commandContextOf(request.headers, request.actor, request.id, options);
  },
);
