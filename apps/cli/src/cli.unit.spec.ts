import { verify } from 'jsonwebtoken';
import { runCli } from './cli';
import { CliIo } from './cli-io';

const SECRET = 'unit-test-secret';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line) };
}

describe('runCli', () => {
  it('shows the usage for help, listing the commands of SPEC §9', async () => {
    const io = capture();

    expect(await runCli(['help'], {}, io)).toBe(0);
    const usage = io.stdout.join('\n');
    for (const command of ['scenario', 'token', 'replay', 'audit', 'verify', 'export']) {
      expect(usage).toContain(`  ${command}`);
    }
    expect(usage).toMatch(/replay --until ISO\|POSITION/);
  });

  it.each([
    [['verify', 'extra'], /verify takes no extra/],
    [['verify', '--key'], /--key needs a value/],
    [['verify', '--colour'], /unknown option: --colour/],
    [['export'], /export needs INCIDENT_ID/],
    [['export', 'incident-42', '--out', 'f.json'], /INCIDENT_ID must be a UUID/],
    [['export', '2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60'], /export needs --out FILE/],
  ])('refuses %j before opening anything: usage error, exit 2', async (argv, message) => {
    const io = capture();

    expect(await runCli(argv, {}, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(message);
  });

  it('verify without any key to check with says how to give one, exit 1', async () => {
    const io = capture();

    expect(await runCli(['verify'], { TRUCELINE_DATA_DIR: '/nonexistent-truceline' }, io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/--key VKEY/);
  });

  it.each([
    [
      ['replay', '--projection', 'incident'],
      /unknown projection "incident" \(known: incidents, feeds, all\)/,
    ],
    [['replay', '--until', 'yesterday'], /expected a log position or an ISO 8601 time/],
    [['replay', '--until', '0'], /a position is an integer of at least 1/],
    [['replay', '--into', 'x'], /--into and --json go with --until/],
    [['replay', '--until', '5', '--into', 'Bad-Name'], /--into Bad-Name: a schema name/],
    [['replay', 'x'], /replay takes no x/],
    [['replay', '--colour'], /unknown option: --colour/],
  ])('refuses replay %j before opening the store: usage error, exit 2', async (argv, message) => {
    const io = capture();

    expect(await runCli(argv, { TRUCELINE_DATA_DIR: '/nonexistent-truceline' }, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(message);
    expect(io.stdout).toEqual([]);
  });

  it.each([
    [['audit'], /audit needs an INCIDENT_ID/],
    [['audit', 'incident-42'], /INCIDENT_ID must be a UUID/],
    [['audit', '2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60', '--as-of', 'yesterday'], /--as-of must be/],
    [['audit', '2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60', '--format', 'pdf'], /json or html/],
    [['audit', '2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60', '--colour'], /unknown option: --colour/],
  ])('refuses audit %j before asking anyone: usage error, exit 2', async (argv, message) => {
    const io = capture();

    expect(await runCli(argv, { TRUCELINE_JWT_SECRET: SECRET }, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(message);
    expect(io.stdout).toEqual([]);
  });

  it('says clearly when the API cannot be reached: exit 1', async () => {
    const io = capture();

    const code = await runCli(
      ['audit', '2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60', '--url', 'http://127.0.0.1:9'],
      { TRUCELINE_JWT_SECRET: SECRET },
      io,
    );

    expect(code).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/cannot reach the API at http:\/\/127.0.0.1:9/);
  });

  it('exits with 2 on an unknown command or no command', async () => {
    expect(await runCli(['frobnicate'], {}, capture())).toBe(2);
    expect(await runCli([], {}, capture())).toBe(2);
  });

  it('prints a token the API can verify, and nothing else', async () => {
    const io = capture();

    const code = await runCli(
      ['token', '--role', 'ministry', '--partner', 'gb', '--sub', 'uk-mod', '--ttl', '60'],
      { TRUCELINE_JWT_SECRET: SECRET },
      io,
    );

    expect(code).toBe(0);
    expect(io.stdout).toHaveLength(1);
    const claims = verify(io.stdout[0], SECRET, { algorithms: ['HS256'] }) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ role: 'ministry', partner: 'GB', sub: 'uk-mod' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
  });

  it('refuses a token the API would reject: usage error, exit 2', async () => {
    const io = capture();

    expect(
      await runCli(['token', '--role', 'verifier'], { TRUCELINE_JWT_SECRET: SECRET }, io),
    ).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/needs a partner/);
    expect(
      await runCli(['token', '--role', 'admin'], { TRUCELINE_JWT_SECRET: SECRET }, capture()),
    ).toBe(2);
    expect(await runCli(['token'], { TRUCELINE_JWT_SECRET: SECRET }, capture())).toBe(2);
  });

  it('exits with 1 when no secret can be found', async () => {
    const io = capture();

    expect(
      await runCli(['token', '--role', 'operator'], { TRUCELINE_DATA_DIR: '/nonexistent' }, io),
    ).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/no JWT secret/);
  });

  it('needs at least one scenario file', async () => {
    expect(await runCli(['scenario'], { TRUCELINE_JWT_SECRET: SECRET }, capture())).toBe(2);
  });

  it('reports a scenario file that cannot be read before sending anything', async () => {
    const io = capture();

    const code = await runCli(
      ['scenario', '/nonexistent/scenario.json', '--url', 'http://127.0.0.1:9'],
      { TRUCELINE_JWT_SECRET: SECRET },
      io,
    );

    expect(code).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/\/nonexistent\/scenario\.json: not a valid scenario/);
  });
});
