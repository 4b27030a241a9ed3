import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { Role } from '@truceline/domain';

export const ROLES_KEY = 'truceline:roles';
export const PUBLIC_KEY = 'truceline:public';

/**
 * Who may call a route (SPEC §6 "who"); a handler's list overrides its controller's. The
 * OpenAPI document states the same list as the operation's `x-roles`.
 */
export const Roles = (...roles: Role[]) =>
  applyDecorators(SetMetadata(ROLES_KEY, roles), ApiExtension('x-roles', roles));

/** Answered without a token: health, metrics. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
