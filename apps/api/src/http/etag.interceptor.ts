import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { map, Observable } from 'rxjs';

/** `ETag: "<revision>"` when the body carries the incident's revision; the body, unchanged. */
export function withRevisionETag<T>(response: Response, body: T): T {
  const revision = (body as { revision?: unknown } | null)?.revision;
  if (typeof revision === 'number') response.setHeader('ETag', `"${revision}"`);
  return body;
}

/**
 * `ETag: "<revision>"` on every response that carries the incident's revision (command results,
 * the incident view), so a client can send it back as If-Match (SPEC §6).
 */
@Injectable()
export class RevisionETagInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const response = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(map((body: unknown) => withRevisionETag(response, body)));
  }
}
