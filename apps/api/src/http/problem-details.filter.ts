import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { ErrorCode, TrucelineError, ValidationError } from '@truceline/domain';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { FieldError } from './validation';

/** RFC 9457 problem details, with the error's string code and, for 400s, each bad field. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  reason?: string;
}

const STATUS: Record<ErrorCode, number> = {
  validation: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  'not-found': HttpStatus.NOT_FOUND,
  'illegal-state': HttpStatus.CONFLICT,
  concurrency: HttpStatus.PRECONDITION_FAILED,
  'idempotency-conflict': HttpStatus.UNPROCESSABLE_ENTITY,
  'idempotency-in-flight': HttpStatus.CONFLICT,
};

const TITLE: Record<ErrorCode, string> = {
  validation: 'Invalid request',
  unauthorized: 'Authentication required',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  'illegal-state': "Not allowed in the incident's current state",
  concurrency: 'Stale revision',
  'idempotency-conflict': 'Idempotency key reused for another request',
  'idempotency-in-flight': 'A request with this Idempotency-Key is still in progress',
};

/** Codes of plain HTTP errors (routing, body parsing) that mean the same as a domain code. */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'validation',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
};

const typeOf = (code: string) => `urn:truceline:problem:${code}`;
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-');

export function toProblem(exception: unknown): ProblemDetails {
  if (exception instanceof TrucelineError) {
    const reason = exception.details?.reason;
    return {
      type: typeOf(exception.code),
      title: TITLE[exception.code],
      status: STATUS[exception.code],
      detail: exception.message,
      code: exception.code,
      ...(exception instanceof ValidationError && { errors: exception.fields }),
      ...(typeof reason === 'string' && { reason }),
    };
  }
  if (exception instanceof HttpException && exception.getStatus() < 500) {
    const status = exception.getStatus();
    const title = STATUS_CODES[status] ?? 'Error';
    const code = CODE_OF_STATUS[status] ?? slug(title);
    return { type: typeOf(code), title, status, detail: detailOf(exception), code };
  }
  const status =
    exception instanceof HttpException ? exception.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR;
  const title = STATUS_CODES[status] ?? 'Internal Server Error';
  // A server fault's message may hold internals: the client gets the status text only.
  return { type: typeOf('internal'), title, status, detail: title, code: 'internal' };
}

function detailOf(exception: HttpException): string {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}

/**
 * The one exception filter of the HTTP transport (STYLE habit 7): domain errors by their string
 * code, Nest's HTTP exceptions (routing, body parsing: 400 malformed JSON, 413 too large) by
 * status, anything else as a logged 500 that reveals nothing.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<FastifyReply>();
    const problem = toProblem(exception);
    // Domain errors and deliberate HTTP answers (e.g. 503 not ready) are expected outcomes;
    // anything else is a bug worth a stack trace.
    if (!(exception instanceof TrucelineError) && !(exception instanceof HttpException)) {
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    }
    if (response.sent || response.raw.headersSent) {
      response.raw.end();
      return;
    }
    if (problem.status === 401) void response.header('WWW-Authenticate', 'Bearer');
    void response
      .code(problem.status)
      .type('application/problem+json')
      .send(JSON.stringify(problem));
  }
}

/**
 * Fastify's router refuses a URL it cannot decode (400) before any hook or filter runs: the
 * same problem+json answer, with the request's correlation id.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 400;
  const detail =
    error.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly percent-encoded' : error.message;
  const problem = toProblem(new HttpException(detail, status));
  void reply
    .header('X-Correlation-Id', request.id)
    .code(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify(problem));
}
