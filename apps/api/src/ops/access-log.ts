import type { Logger } from '@truceline/messaging';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADER_TOKEN } from '../http/patterns';

/**
 * Every request gets an id: the caller's `X-Correlation-Id` when it is a valid one, else a new
 * UUID. It is echoed in the response's `X-Correlation-Id`, written on the access-log line, and
 * carried into the metadata of the events a command stores, so one id follows a request from
 * the caller's logs through ours to the log of record.
 */
export function correlationIdOf(request: IncomingMessage): string {
  const given = request.headers['x-correlation-id'];
  return typeof given === 'string' && HEADER_TOKEN.test(given) ? given : randomUUID();
}

/** The raw request as it carries its correlation id, for the access log's line. */
export type WithId = IncomingMessage & { id?: string };

/**
 * Fastify's `genReqId`: the request's id is its correlation id, and it is kept on the raw
 * request too, where the access log reads it once the response has closed.
 */
export function correlationIdOfRaw(raw: IncomingMessage): string {
  const id = correlationIdOf(raw);
  (raw as WithId).id = id;
  return id;
}

/** Echoes the request's id as `X-Correlation-Id` on every answer, errors and 404s included. */
export function correlationIds(
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  void reply.header('X-Correlation-Id', request.id);
  done();
}

/** When the request came in (performance.now()), on its response for the line written at the end. */
const STARTED = Symbol('accessLogStarted');
type Timed = ServerResponse<WithId> & { [STARTED]?: number };

/**
 * One JSON line per request once it is answered: method, url, status, response time in ms and
 * the request id, with the client's address; never a header, so no bearer token or cookie can
 * reach a line. A request whose client went away before the answer is logged as aborted, and
 * 5xx answers at level error; below that level, nothing is built for a request that succeeded.
 * (It replaces pino-http, whose per-request child logger, header serialisation and redaction
 * cost more CPU than the rest of a GET's edge.)
 */
export function accessLog(
  logger: Logger,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  // One listener for every response (its `this`), not a closure per request.
  function written(this: Timed): void {
    const aborted = !this.writableFinished;
    const failed = aborted || this.statusCode >= 500;
    if (!failed && !logger.isLevelEnabled('info')) return;
    const request = this.req;
    const line = {
      req: {
        id: request.id,
        method: request.method,
        url: request.url,
        remoteAddress: request.socket?.remoteAddress,
        remotePort: request.socket?.remotePort,
      },
      res: { statusCode: this.statusCode },
      responseTime: Math.round(performance.now() - (this[STARTED] ?? 0)),
    };
    if (aborted) logger.error(line, 'request aborted');
    else if (failed) logger.error(line, 'request errored');
    else logger.info(line, 'request completed');
  }
  return (_request, reply, done) => {
    const response = reply.raw as Timed;
    response[STARTED] = performance.now();
    response.on('close', written);
    done();
  };
}
