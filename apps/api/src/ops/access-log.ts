import type { Logger } from '@truceline/messaging';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pinoHttp } from 'pino-http';
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

/** One JSON line per request once it is answered: method, url, status, time, request id. */
export function accessLog(logger: Logger) {
  return pinoHttp({
    logger,
    // The id correlationIds set; pino-http would otherwise number requests per process.
    genReqId: (request) => (request as IncomingMessage & { id?: string }).id ?? randomUUID(),
    // Bearer tokens and cookies never reach a log line.
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    customLogLevel: (_request, response, error) =>
      error || response.statusCode >= 500 ? 'error' : 'info',
  });
}
