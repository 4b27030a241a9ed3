import { signToken } from '@truceline/config';
import { ROLES, Role } from '@truceline/domain';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from './args';
import { CliEnvironment, jwtSecret } from './cli-environment';
import type { CliIo } from './cli-io';

/** `truceline token --role R …`: prints only the token, so `$(truceline token …)` works. */
export function tokenCommand(args: ParsedArgs, env: CliEnvironment, io: CliIo): number {
  rejectUnknownOptions(args, ['role', 'partner', 'sub', 'ttl', 'secret']);
  if (args.positionals.length > 0) throw new UsageError(`token takes no ${args.positionals[0]}`);
  const role = optionValue(args, 'role');
  if (role === undefined) throw new UsageError(`token needs --role (${ROLES.join(', ')})`);
  if (!ROLES.includes(role as Role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  }
  const ttl = optionValue(args, 'ttl');
  if (ttl !== undefined && !/^[1-9]\d*$/.test(ttl)) {
    throw new UsageError('--ttl must be a positive whole number of seconds');
  }
  const partner = optionValue(args, 'partner')?.toUpperCase();
  const sub =
    optionValue(args, 'sub') ?? `cli-${role}${partner ? `-${partner.toLowerCase()}` : ''}`;
  const secret = jwtSecret(optionValue(args, 'secret'), env);
  let token: string;
  try {
    token = signToken(secret, { role: role as Role, partner, sub }, ttl ? Number(ttl) : undefined);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  io.out(token);
  return 0;
}
