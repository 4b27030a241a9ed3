import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { map, Observable } from 'rxjs';

/** `ETag: "<revision>"` when the body carries the incident's revision; the body, unchanged. */
export function withRevisionETag<T>(response: FastifyReply, body: T): T {
  const revision = (body as { revision?: unknown } | null)?.revision;
  if (typeof revision === 'number') void response.header('ETag', `"${revision}"`);
  return body;
}

/**
 * Whether a conditional GET's `If-None-Match` names the current ETag (`*`, or one of a list,
 * compared weakly as RFC 9110 says), unless the client asked past caches with `no-cache`.
 */
export function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (header === undefined || header === '') return false;
  if (/(?:^|,)\s*no-cache\s*(?:,|$)/i.test(request.headers['cache-control'] ?? '')) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * `ETag: "<revision>"` on every response that carries the incident's revision (command results,
 * the incident view), so a client can send it back as If-Match (SPEC §6).
 */
@Injectable()
export class RevisionETagInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const response = context.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(map((body: unknown) => withRevisionETag(response, body)));
  }
}
