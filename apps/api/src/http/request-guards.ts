import { ValidationError } from '@truceline/domain';
import { BadRequestException, HttpException, HttpStatus } from '@nestjs/common';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import FindMyWay, { HTTPMethod } from 'find-my-way';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** Deeper JSON is refused before any code walks it recursively (SPEC §6). */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys that JSON.parse keeps as own properties but that object mappers drop silently or treat
 * as the prototype: refused as unknown fields wherever they appear.
 */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What is wrong with the shape of a parsed JSON body: nesting deeper than MAX_JSON_DEPTH, or a
 * prototype key. Iterative, so a hostile body cannot exhaust the stack here either.
 */
export function bodyShapeProblems(body: unknown): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const pending: { value: unknown; path: string; depth: number }[] = [
    { value: body, path: '', depth: 1 },
  ];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      return [
        {
          field: path || 'body',
          message: `JSON must not be nested deeper than ${MAX_JSON_DEPTH} levels`,
        },
      ];
    }
    for (const key of Object.keys(value)) {
      const field = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) {
        problems.push({ field, message: `property ${key} should not exist` });
        continue;
      }
      pending.push({
        value: (value as Record<string, unknown>)[key],
        path: field,
        depth: depth + 1,
      });
    }
  }
  return problems;
}

/** After the JSON parser: 400 for a body too deep, or a body or query with a prototype key. */
export function bodyShapeGuard(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const problems = bodyShapeProblems(request.body);
  if (request.url.includes('?')) problems.push(...bodyShapeProblems(request.query));
  if (problems.length === 0) return done();
  const fields = [...new Set(problems.map((p) => p.field))];
  done(new ValidationError(`invalid request: ${fields.join(', ')}`, problems));
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/** Before the JSON parser: a body that is not JSON is 415, not parsed as nothing. */
export function mediaTypeGuard(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const { headers, method } = request;
  const hasBody =
    headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
  if (!hasBody || method === 'GET' || method === 'HEAD') return done();
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim();
  if (JSON_TYPE.test(type)) return done();
  done(
    new HttpException(
      `request bodies must be application/json${type ? `, not ${type}` : ''}`,
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    ),
  );
}

/**
 * The JSON body parser, for every content type the media-type guard let through: as strict as
 * JSON bodies were on Express (an object or an array; an empty body is `{}`), malformed → 400.
 */
export function parseJsonBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, body?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return done(null, {});
  if (first !== '{' && first !== '[') {
    return done(
      new BadRequestException(`Unexpected token '${first}': a JSON object or array is expected`),
    );
  }
  try {
    done(null, JSON.parse(text));
  } catch (error) {
    done(new BadRequestException((error as Error).message));
  }
}

/** The matching rules of the app's router, so that the method guard matches paths as it does. */
export interface RouterRules {
  caseSensitive: boolean;
  ignoreTrailingSlash: boolean;
  maxParamLength: number;
}

/**
 * A path the API serves asked with a method it lacks → 405 with `Allow` (SPEC §6); OPTIONS on
 * such a path → 204 with `Allow`. Fastify's router answers such a request with its not-found
 * handler; this hook runs only then, and asks a router of the same rules holding every route
 * the app registered (fed by `onRoute`, installed before any route) which methods the path has.
 * Paths the API does not serve go on to the 404.
 */
export function installMethodGuard(app: FastifyInstance, rules: RouterRules): void {
  const router = FindMyWay(rules);
  const methods = new Set<HTTPMethod>();
  const noop = () => undefined;
  app.addHook('onRoute', (route) => {
    const all = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of all) {
      const upper = method.toUpperCase() as HTTPMethod;
      if (router.hasRoute(upper, route.url)) continue;
      router.on(upper, route.url, noop);
      methods.add(upper);
    }
  });
  app.addHook('onRequest', (request, reply, done) => {
    // Nearly every request is for a route that serves its method: the router took it.
    if (!request.is404) return done();
    const path = request.url.split('?', 1)[0]!;
    const allowed = new Set<string>();
    for (const method of methods) {
      if (router.find(method, path)) allowed.add(method);
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    if (allowed.size === 0) return done();
    const allow = [...allowed].sort().join(', ');
    void reply.header('Allow', allow);
    if (request.method === 'OPTIONS') {
      void reply.code(204).send();
      return;
    }
    done(
      new HttpException(
        `${request.method} is not allowed here; allowed: ${allow}`,
        HttpStatus.METHOD_NOT_ALLOWED,
      ),
    );
  });
}

/**
 * A request Node's parser refuses before any route sees it (headers too large, a request
 * timeout, bytes that are not HTTP): answered as Node's own handler answers it, with
 * `Connection: close`, then the socket closed. Fastify's default leaves that header out, so a
 * keep-alive client read a complete answer, put the socket back in its pool, and sent its next
 * request into a socket already closed ("other side closed").
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : 400;
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ error: title, statusCode: status });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
