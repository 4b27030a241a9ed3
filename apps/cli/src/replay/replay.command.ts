import { ParsedArgs } from '../args';
import { CliEnvironment } from '../cli-environment';
import type { CliIo } from '../cli-io';
import { USAGE } from '../usage';
import { whatIfCommand } from './what-if.command';

/**
 * `truceline replay` (SPEC §9). `--policy FILE --diff` is the what-if: it folds the log under
 * another policy and changes nothing. Rebuilding the read models (`--projection`, `--until`) is
 * not built yet: it says so, exit 2.
 */
export async function replayCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  if (args.options.policy !== undefined) return whatIfCommand(args, env, io);
  io.err('truceline replay: not available yet (only replay --policy FILE --diff is).\n');
  io.err(USAGE);
  return 2;
}
