import {
  readScenarioFile,
  runScenario,
  Scenario,
  ScenarioFormatError,
  ScenarioSetupError,
} from '@truceline/scenarios';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from './args';
import { apiBaseUrl, CliEnvironment, CliError, jwtSecret } from './cli-environment';
import type { CliIo } from './cli-io';

/**
 * `truceline scenario FILE…`: runs the files in order against one instance and exits with 1 if
 * any fails. Every file is read and checked before the first request, so a typo in the third
 * file does not leave the first two half-applied to a drill.
 */
export async function scenarioCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, ['url', 'secret', 'run-id']);
  if (args.positionals.length === 0) throw new UsageError('scenario needs at least one FILE');
  let scenarios: Scenario[];
  try {
    scenarios = args.positionals.map((file) => readScenarioFile(file));
  } catch (error) {
    if (error instanceof ScenarioFormatError) throw new CliError(error.message);
    throw error;
  }
  const baseUrl = apiBaseUrl(optionValue(args, 'url'), env);
  const secret = jwtSecret(optionValue(args, 'secret'), env);
  const runId = optionValue(args, 'run-id');

  const failed: string[] = [];
  for (const scenario of scenarios) {
    try {
      const result = await runScenario(scenario, {
        baseUrl,
        jwtSecret: secret,
        runId,
        log: io.out,
      });
      if (!result.passed) failed.push(scenario.name);
    } catch (error) {
      if (error instanceof ScenarioSetupError) throw new CliError(error.message);
      throw error;
    }
    io.out('');
  }
  const passed = scenarios.length - failed.length;
  io.out(
    `${passed} of ${scenarios.length} scenario${scenarios.length > 1 ? 's' : ''} passed` +
      (failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''),
  );
  return failed.length === 0 ? 0 : 1;
}
