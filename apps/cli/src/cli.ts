import { parseArgs, UsageError } from './args';
import { auditCommand } from './audit/audit.command';
import { CliEnvironment, CliError } from './cli-environment';
import type { CliIo } from './cli-io';
import { exportCommand } from './export.command';
import { replayCommand } from './replay/replay.command';
import { scenarioCommand } from './scenario.command';
import { tokenCommand } from './token.command';
import { verifyCommand } from './verify.command';
import { USAGE } from './usage';

/** Options that take a value, across commands: everything else is a bare flag. */
const VALUED = new Set([
  'url',
  'secret',
  'run-id',
  'role',
  'partner',
  'sub',
  'ttl',
  'as-of',
  'format',
  'out',
  'token',
  'key',
  'projection',
  'until',
  'into',
  'policy',
]);

/**
 * Runs one command line and returns the exit code: 0 done, 1 failed (a scenario failed, a
 * secret is missing), 2 usage (unknown command or option).
 */
export async function runCli(
  argv: readonly string[],
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  try {
    const args = parseArgs(argv, VALUED);
    if (args.command === 'help' || (args.options.help && args.command !== undefined)) {
      io.out(USAGE);
      return 0;
    }
    switch (args.command) {
      case 'scenario':
        return await scenarioCommand(args, env, io);
      case 'token':
        return tokenCommand(args, env, io);
      case 'verify':
        return await verifyCommand(args, env, io);
      case 'export':
        return await exportCommand(args, env, io);
      case 'audit':
        return await auditCommand(args, env, io);
      case 'replay':
        return await replayCommand(args, env, io);
      case undefined:
        io[args.options.help ? 'out' : 'err'](USAGE);
        return args.options.help ? 0 : 2;
    }
    io.err(`truceline: unknown command "${args.command}"\n`);
    io.err(USAGE);
    return 2;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`truceline: ${error.message}\nRun \`truceline help\` for usage.`);
      return 2;
    }
    if (error instanceof CliError) {
      io.err(`truceline: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
