import { ParsedArgs } from '../args';
import { CliEnvironment } from '../cli-environment';
import type { CliIo } from '../cli-io';
import { rebuildCommand } from './rebuild.command';
import { whatIfCommand } from './what-if.command';

/**
 * `truceline replay` (SPEC §9). `--policy FILE --diff` is the what-if: it folds the log under
 * another policy and changes nothing. Everything else rebuilds the read models (blue/green) or
 * builds them as they stood at `--until`.
 */
export async function replayCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  if (args.options.policy !== undefined) return whatIfCommand(args, env, io);
  return rebuildCommand(args, env, io);
}
