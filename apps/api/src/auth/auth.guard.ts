import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ROLES_WITH_PARTNER } from '@truceline/config';
import { Actor, ForbiddenError, Role, ROLES, TrucelineError } from '@truceline/domain';
import type { FastifyRequest } from 'fastify';
import { PUBLIC_KEY, ROLES_KEY } from './roles.decorator';
import { TokenVerifier, VerifiedClaims } from './token-verifier';

/** The TokenVerifier the guard checks signatures with (HS256 or the identity provider's JWKS). */
export const TOKEN_VERIFIER = Symbol('TokenVerifier');

export interface AuthenticatedRequest extends FastifyRequest {
  actor?: Actor;
}

const PARTNER_CODE = /^[A-Z]{2}$/;
const unauthorized = (message: string) => new TrucelineError('unauthorized', message);

/**
 * Every route needs a bearer token (SPEC §6: HS256, or the identity provider's RS256/ES256)
 * unless marked @Public(), and a role listed
 * in its @Roles(). A route with neither is refused: forgetting the decorator must not open it.
 * No or invalid token → 401; a valid token with the wrong role → 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  /** Each route's decorators by class and handler, read once: they do not change at run time. */
  private readonly access = new WeakMap<object, WeakMap<object, RouteAccess>>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { isPublic, roles } = this.accessOf(context);
    if (isPublic) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const actor = await authenticate(request.headers.authorization, this.verifier);
    if (!roles.includes(actor.role)) {
      throw new ForbiddenError(`the ${actor.role} role may not do this`, 'role');
    }
    request.actor = actor;
    return true;
  }

  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    const controller = context.getClass();
    let ofClass = this.access.get(controller);
    if (!ofClass) this.access.set(controller, (ofClass = new WeakMap()));
    let access = ofClass.get(handler);
    if (!access) {
      const targets = [handler, controller];
      access = {
        isPublic: this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) === true,
        roles: this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets) ?? [],
      };
      ofClass.set(handler, access);
    }
    return access;
  }
}

interface RouteAccess {
  isPublic: boolean;
  roles: readonly Role[];
}

/** The actor of an `Authorization: Bearer <JWT>` header, or a 401 saying what is wrong. */
export async function authenticate(
  header: string | undefined,
  verifier: TokenVerifier,
): Promise<Actor> {
  const token = /^Bearer ([^\s]+)$/i.exec(header?.trim() ?? '')?.[1];
  if (!token) throw unauthorized('a bearer token is required (Authorization: Bearer <JWT>)');
  return actorOf(await verifier.verify(token));
}

/** Truceline's claims (SPEC §6), whoever signed the token. */
function actorOf(claims: VerifiedClaims): Actor {
  // A token that never expires would stay valid for ever once leaked (SPEC §6).
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) {
    throw unauthorized('the token must carry an exp claim');
  }
  const { sub, role, partner } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 200) {
    throw unauthorized('the token has no valid sub claim');
  }
  if (!ROLES.includes(role as Role)) {
    throw unauthorized(`the token's role must be one of ${ROLES.join(', ')}`);
  }
  if (partner !== undefined && (typeof partner !== 'string' || !PARTNER_CODE.test(partner))) {
    throw unauthorized("the token's partner must be an ISO 3166-1 alpha-2 code or EU");
  }
  if (partner === undefined && ROLES_WITH_PARTNER.includes(role as Role)) {
    throw unauthorized(`a ${String(role)} token must name its partner`);
  }
  return partner === undefined
    ? { id: sub, role: role as Role }
    : { id: sub, role: role as Role, partner: partner as string };
}
