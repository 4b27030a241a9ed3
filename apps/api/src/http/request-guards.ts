import { HttpException, HttpStatus } from '@nestjs/common';
import { ValidationError } from '@truceline/domain';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

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
export const bodyShapeGuard: RequestHandler = (request, _response, next) => {
  const problems = bodyShapeProblems(request.body);
  // Express parses the query string anew at each read of request.query: only when there is one.
  if (request.url.includes('?')) problems.push(...bodyShapeProblems(request.query));
  if (problems.length === 0) return next();
  const fields = [...new Set(problems.map((p) => p.field))];
  next(new ValidationError(`invalid request: ${fields.join(', ')}`, problems));
};

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/** Before the JSON parser: a body that is not JSON is 415, not parsed as nothing. */
export const mediaTypeGuard: RequestHandler = (request, _response, next) => {
  const hasBody =
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0;
  if (!hasBody || request.method === 'GET' || request.method === 'HEAD') return next();
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (JSON_TYPE.test(type)) return next();
  next(
    new HttpException(
      `request bodies must be application/json${type ? `, not ${type}` : ''}`,
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    ),
  );
};

/** A layer of Express's router: `match` is how the router itself tests a path. */
export interface RouteLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  match(path: string): boolean;
}
interface KnownRoute {
  layer: RouteLayer;
  methods: Set<string>;
  /** Registered with `all`: every method is served. */
  any: boolean;
}

/**
 * A path the API serves asked with a method it lacks → 405 with `Allow` (SPEC §6); OPTIONS on
 * such a path → 204 with `Allow`. Mounted first; reads the router's routes on first use, once
 * every controller is registered. Paths the API does not serve go on to the 404.
 */
export function methodGuard(routes: () => RouteLayer[]): RequestHandler {
  let known: KnownRoute[] | undefined;
  const load = (): KnownRoute[] => {
    const found: KnownRoute[] = [];
    for (const layer of routes()) {
      if (!layer.route) continue;
      const methods = new Set<string>();
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') methods.add(method.toUpperCase());
      }
      if (methods.has('GET')) methods.add('HEAD');
      found.push({ layer, methods, any: layer.route.methods._all === true });
    }
    return found;
  };
  return (request: Request, response: Response, next: NextFunction) => {
    known ??= load();
    const { method, path } = request;
    // Nearly every request is for a route that serves its method: the router takes it from here.
    for (const route of known) {
      if ((route.any || route.methods.has(method)) && route.layer.match(path)) return next();
    }
    const allowed = new Set<string>();
    for (const route of known) {
      if (!route.layer.match(path)) continue;
      if (route.any) return next();
      route.methods.forEach((m) => allowed.add(m));
    }
    if (allowed.size === 0) return next();
    const allow = [...allowed].sort().join(', ');
    response.setHeader('Allow', allow);
    if (request.method === 'OPTIONS') {
      response.status(204).end();
      return;
    }
    next(
      new HttpException(
        `${request.method} is not allowed here; allowed: ${allow}`,
        HttpStatus.METHOD_NOT_ALLOWED,
      ),
    );
  };
}
