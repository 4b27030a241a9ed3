export interface ParsedArgs {
  command?: string;
  positionals: string[];
  /** `--name value` and `--name=value`; a flag with no value is `true`. */
  options: Record<string, string | true>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Hand-written on purpose: the CLI needs `--name value`, `--name=value`, bare flags and `--`
 * (everything after it is positional), not a dependency. Which options take a value is told by
 * `valued`, so `--help FILE` never swallows a file name.
 */
export function parseArgs(argv: readonly string[], valued: ReadonlySet<string>): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      options.help = true;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      if (name === '') throw new UsageError(`not an option: ${arg}`);
      if (eq !== -1) options[name] = arg.slice(eq + 1);
      else if (!valued.has(name)) options[name] = true;
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options[name] = argv[++i];
      else throw new UsageError(`--${name} needs a value`);
    } else {
      positionals.push(arg);
    }
  }
  const [command, ...rest] = positionals;
  return { command, positionals: rest, options };
}

/** The value of a `--name value` option, refusing a bare `--name`. */
export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const value = args.options[name];
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

/** Refuses options the command does not know, so a typo is never silently ignored. */
export function rejectUnknownOptions(args: ParsedArgs, known: readonly string[]): void {
  const unknown = Object.keys(args.options).filter((name) => ![...known, 'help'].includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.map((n) => `--${n}`).join(', ')}`,
    );
  }
}
