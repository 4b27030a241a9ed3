import { verifyLog } from '@truceline/ledger';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from './args';
import { CliEnvironment } from './cli-environment';
import type { CliIo } from './cli-io';
import { openLog, verifierKey } from './log-access';

/**
 * `truceline verify [--key VKEY] [--json]` (SPEC §9, §10): recomputes the tree from the stored
 * events and checks every checkpoint; exit 0 only when all holds, 1 naming the first bad
 * position otherwise.
 */
export async function verifyCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, ['key', 'json']);
  if (args.positionals.length > 0) throw new UsageError(`verify takes no ${args.positionals[0]}`);
  const verifier = verifierKey(optionValue(args, 'key'), env);
  const sql = await openLog(env);
  try {
    const report = await verifyLog(sql, verifier);
    if (args.options.json) {
      io.out(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 1;
    }
    io.out(
      `${report.events} events (${report.sealed} sealed, ${report.unsealed} not sealed yet), ` +
        `${report.checkpoints} checkpoints of ${verifier.name}, checked in ${report.durationMs} ms`,
    );
    if (report.ok) {
      io.out(
        'OK: every event matches its sealed leaf, every checkpoint is signed and matches the ' +
          'events, and each is consistent with the one before',
      );
      return 0;
    }
    io.err(`TAMPERED: the first bad position is ${report.firstBadPosition ?? 'not known'}`);
    for (const problem of report.problems) {
      const where = problem.position === undefined ? '' : `position ${problem.position}: `;
      io.err(`  ${where}${problem.message}`);
    }
    return 1;
  } finally {
    await sql.close();
  }
}
