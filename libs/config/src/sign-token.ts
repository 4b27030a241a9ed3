import { PartnerCode, Role, ROLES } from '@truceline/domain';
import { sign } from 'jsonwebtoken';
import { createSecretKey, KeyObject } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  role: Role;
  /** ISO 3166-1 alpha-2 or EU; required for verifiers and ministries (SPEC §6). */
  partner?: PartnerCode;
}

export const ROLES_WITH_PARTNER: readonly Role[] = ['verifier', 'ministry'];
const PARTNER_CODE = /^[A-Z]{2}$/;
const DEFAULT_TTL_SECONDS = 3600;

/**
 * Signs an HS256 bearer token the API accepts (SPEC §6). Used by the CLI (`truceline token`),
 * the startup banner of a development instance and tests. Refuses claims the API would reject,
 * so a mistyped role or a missing partner fails here rather than as a 401 later.
 */
export function signToken(
  secret: string,
  claims: TokenClaims,
  ttlSeconds: number = DEFAULT_TTL_SECONDS,
): string {
  if (!claims.sub) throw new Error('token: sub must not be empty');
  if (!ROLES.includes(claims.role)) {
    throw new Error(`token: role must be one of ${ROLES.join(', ')}`);
  }
  if (claims.partner !== undefined && !PARTNER_CODE.test(claims.partner)) {
    throw new Error('token: partner must be an ISO 3166-1 alpha-2 code or EU');
  }
  if (ROLES_WITH_PARTNER.includes(claims.role) && claims.partner === undefined) {
    throw new Error(`token: a ${claims.role} token needs a partner`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error('token: ttlSeconds must be a positive integer');
  }
  const payload: TokenClaims = { sub: claims.sub, role: claims.role };
  if (claims.partner !== undefined) payload.partner = claims.partner;
  return sign(payload, secretKey(secret), { algorithm: 'HS256', expiresIn: ttlSeconds });
}

/**
 * The key object of the last secret signed with. Given the string, jsonwebtoken first tries it
 * as a private key on every call and fails: about 1 ms of CPU per token, which the tests that
 * sign one per request paid thousands of times.
 */
let lastKey: { secret: string; key: KeyObject } | undefined;
function secretKey(secret: string): KeyObject {
  if (lastKey?.secret !== secret) lastKey = { secret, key: createSecretKey(Buffer.from(secret)) };
  return lastKey.key;
}
