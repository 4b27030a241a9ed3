import { parsePolicyDocument } from '@truceline/config';
import {
  EscalationPolicy,
  EscalationPolicyDocument,
  UnknownPolicyVersionError,
  UndecodableFactError,
  ValidationError,
} from '@truceline/domain';
import { SqlEventStore } from '@truceline/event-store';
import { diffWhatIf, PolicyRegistry, WhatIfFold } from '@truceline/projections';
import { readExerciseClock } from '@truceline/workflows';
import { readFileSync } from 'node:fs';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from '../args';
import { CliEnvironment, CliError } from '../cli-environment';
import type { CliIo } from '../cli-io';
import { openLog } from '../log-access';
import { renderWhatIf, WhatIfOutput } from './what-if.table';

/** Events read from the store per query: the fold takes them one by one, memory stays flat. */
const PAGE = 2_000;

/**
 * `truceline replay --policy FILE --diff [--json]` (SPEC §9): folds the whole log under the
 * policy document in FILE and prints, per incident that would have gone otherwise, the tiers,
 * obligations and missed deadlines of both worlds. It only reads: nothing is appended, no read
 * model or clock is touched. Exit 0 with the report, 1 when FILE or the store cannot be used.
 */
export async function whatIfCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, ['policy', 'diff', 'json']);
  if (args.positionals.length > 0) throw new UsageError(`replay takes no ${args.positionals[0]}`);
  const file = optionValue(args, 'policy');
  if (!file) throw new UsageError('--policy needs a FILE');
  if (args.options.diff !== true)
    throw new UsageError('replay --policy FILE needs --diff: the what-if reports differences only');
  if (args.options.json !== undefined && args.options.json !== true)
    throw new UsageError('--json takes no value');
  // The document is checked before the store is opened: a bad file changes nothing, needs nothing.
  const document = readPolicyFile(file);

  const sql = await openLog(env);
  try {
    const store = new SqlEventStore(sql);
    const registry = new PolicyRegistry(store);
    // list() only reads the adoptions; load() would adopt v1 on a store that has none.
    const known = (await registry.list()).map((p) => p.version);
    const policy: EscalationPolicy = { ...document, version: Math.max(0, ...known) + 1 };
    const exerciseClock = await readExerciseClock(sql);
    const fold = new WhatIfFold(policy, registry.of);
    for (let after = 0; ;) {
      const page = await store.readAll({ after, limit: PAGE });
      if (page.length === 0) break;
      page.forEach((event) => fold.apply(event));
      after = page[page.length - 1].position;
    }
    const report = diffWhatIf(fold.finish((exerciseClock ?? new Date()).toISOString()));
    const output: WhatIfOutput = {
      policyFile: file,
      policy,
      clock: exerciseClock ? 'exercise' : 'system',
      ...report,
    };
    if (args.options.json) io.out(JSON.stringify(output, null, 2));
    else io.out(renderWhatIf(output));
    return 0;
  } catch (error) {
    // A log this code cannot fold under its own rules: say which event, change nothing.
    if (error instanceof UnknownPolicyVersionError || error instanceof UndecodableFactError)
      throw new CliError(`cannot fold the log: ${error.message}`);
    throw error;
  } finally {
    await sql.close();
  }
}

/** FILE as a policy document, validated as POST /v1/policies validates one; CliError otherwise. */
export function readPolicyFile(file: string): EscalationPolicyDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new CliError(`--policy ${file}: cannot read it (${code ?? message})`);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--policy ${file}: not JSON (${(error as Error).message})`);
  }
  try {
    return parsePolicyDocument(input);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const fields = error.fields.map(({ field, message }) => `\n  ${field}: ${message}`).join('');
    throw new CliError(`--policy ${file}: ${error.message}${fields}`);
  }
}
