import { SetMetadata } from '@nestjs/common';
import { Role } from '@truceline/domain';

export const ROLES_KEY = 'truceline:roles';
export const PUBLIC_KEY = 'truceline:public';

/** Who may call a route (SPEC §6 "who"); a handler's list overrides its controller's. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** Answered without a token: health, metrics. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
