import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Actor } from '@truceline/domain';
import { AuthenticatedRequest } from './auth.guard';

/** The caller as the AuthGuard verified it; only on routes that are not @Public(). */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<AuthenticatedRequest>().actor;
  if (!actor) throw new Error('CurrentActor used on a route without authentication');
  return actor;
});
