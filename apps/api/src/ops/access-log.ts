import type { Logger } from '@truceline/messaging';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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

export function correlationIds(request: Request, response: Response, next: NextFunction): void {
  const id = correlationIdOf(request);
  (request as Request & { id: string }).id = id;
  response.setHeader('X-Correlation-Id', id);
  next();
}

/** When the request came in (performance.now()), on its response for the line written at the end. */
const STARTED = Symbol('accessLogStarted');
type Timed = Response & { [STARTED]?: number };

/**
 * One JSON line per request once it is answered: method, url, status, response time in ms and
 * the request id, with the client's address; never a header, so no bearer token or cookie can
 * reach a line. A request whose client went away before the answer is logged as aborted, and
 * 5xx answers at level error; below that level, nothing is built for a request that succeeded.
 * (It replaces pino-http, whose per-request child logger, header serialisation and redaction
 * cost more CPU than the rest of a GET's edge.)
 */
export function accessLog(logger: Logger): RequestHandler {
  // One listener for every response (its `this`), not a closure per request.
  function written(this: Timed): void {
    const aborted = !this.writableFinished;
    const failed = aborted || this.statusCode >= 500;
    if (!failed && !logger.isLevelEnabled('info')) return;
    const request = this.req as Request & { id?: string };
    const line = {
      req: {
        id: request.id,
        method: request.method,
        url: request.originalUrl,
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
  return (_request, response: Timed, next) => {
    response[STARTED] = performance.now();
    response.on('close', written);
    next();
  };
}
