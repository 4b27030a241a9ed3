import { optionValue, parseArgs, rejectUnknownOptions, UsageError } from './args';

const VALUED = new Set(['url', 'role']);

describe('parseArgs', () => {
  it('splits the command, its positionals and both option spellings', () => {
    const sut = parseArgs(
      ['scenario', 'a.json', '--url', 'http://x', 'b.json', '--role=operator'],
      VALUED,
    );

    expect(sut).toEqual({
      command: 'scenario',
      positionals: ['a.json', 'b.json'],
      options: { url: 'http://x', role: 'operator' },
    });
  });

  it('does not let a bare flag swallow the next file', () => {
    const sut = parseArgs(['scenario', '--verbose', 'a.json'], VALUED);

    expect(sut.options).toEqual({ verbose: true });
    expect(sut.positionals).toEqual(['a.json']);
  });

  it('treats everything after -- as positional', () => {
    expect(parseArgs(['scenario', '--', '--odd-name.json'], VALUED).positionals).toEqual([
      '--odd-name.json',
    ]);
  });

  it('reads -h as --help', () => {
    expect(parseArgs(['-h'], VALUED).options).toEqual({ help: true });
  });

  it('refuses a valued option without its value', () => {
    expect(() => parseArgs(['token', '--role'], VALUED)).toThrow(UsageError);
    expect(() => parseArgs(['token', '--role', '--sub'], VALUED)).toThrow('--role needs a value');
  });
});

describe('rejectUnknownOptions', () => {
  it('names the options the command does not know', () => {
    const args = parseArgs(['token', '--role', 'operator', '--rol', 'x', '--pretty'], VALUED);

    expect(() => rejectUnknownOptions(args, ['role'])).toThrow('unknown options: --rol, --pretty');
  });

  it('accepts --help and the known options', () => {
    expect(() =>
      rejectUnknownOptions(parseArgs(['token', '--role', 'x', '-h'], VALUED), ['role']),
    ).not.toThrow();
  });
});

describe('optionValue', () => {
  it('refuses a flag given without a value', () => {
    expect(() => optionValue(parseArgs(['x', '--secret'], VALUED), 'secret')).toThrow(
      '--secret needs a value',
    );
  });
});
