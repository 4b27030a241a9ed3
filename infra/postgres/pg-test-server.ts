/**
 * A PostgreSQL for the test run: the one DATABASE_URL names, or a throwaway server started here
 * from the machine's PostgreSQL binaries (installed from Debian's packages when missing).
 * Tests never skip for want of PostgreSQL: if none can be had, this throws.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';

export interface TestPostgres {
  /** URL of the maintenance database (`postgres`); tests create their own databases on it. */
  url: string;
  /** One line for the test log: which PostgreSQL the tests use. */
  description: string;
  stop(): Promise<void>;
  /** Last resort from a process 'exit' handler, when the teardown never ran. */
  stopSync(): void;
}

/** Uses the server of `url`, failing loudly when it does not answer. */
export async function useExistingPostgres(url: string): Promise<TestPostgres> {
  let version: string;
  try {
    version = await serverVersion(url);
  } catch (error) {
    throw new Error(
      `DATABASE_URL is set but PostgreSQL at ${redact(url)} does not answer: ${error}`,
    );
  }
  return {
    url,
    description: `PostgreSQL ${version} from DATABASE_URL (${redact(url)})`,
    stop: async () => undefined,
    stopSync: () => undefined,
  };
}

/**
 * initdb + start a private server on 127.0.0.1 in a fresh temporary directory. `settings` are
 * more `-c name=value` for the server (a bench's tracing: commit timestamps, statement counts).
 */
export async function startThrowawayPostgres(
  options: { settings?: string[] } = {},
): Promise<TestPostgres> {
  const bin = findBinaries() ?? installFromDebian();
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: the server then belongs to the postgres OS user.
  if (asRoot) ensurePostgresUser();
  const run = (command: string, args: string[], cwd: string) =>
    asRoot
      ? exec('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], cwd)
      : exec(join(bin, command), args, cwd);

  const dir = await mkdtemp(join(tmpdir(), 'truceline-pg-'));
  if (asRoot) {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(capture('id', [flag, 'postgres'])));
    await chown(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  await run(
    'initdb',
    ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
    dir,
  );

  const stopArgs = ['-D', data, '-m', 'immediate', '-w', 'stop'];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await run('pg_ctl', stopArgs, dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    const [command, args] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...stopArgs]]
      : [join(bin, 'pg_ctl'), stopArgs];
    spawnSync(command as string, args as string[], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  };
  let lastError: unknown;
  // A free port can be taken by someone else between probing and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const settings = [
      `-p ${port}`,
      `-k '${dir}'`,
      '-c listen_addresses=127.0.0.1',
      // Throwaway data: durability is worthless here, speed is not.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
      ...(options.settings ?? []).map((setting) => `-c ${setting}`),
    ].join(' ');
    try {
      await run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start'], dir);
      const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
      const version = await serverVersion(url);
      return {
        url,
        description: `throwaway PostgreSQL ${version} on 127.0.0.1:${port}`,
        stop,
        stopSync,
      };
    } catch (error) {
      lastError = error;
      const tail = (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      lastError = new Error(`${error}\n--- server log ---\n${tail}`);
    }
  }
  await stop();
  throw new Error(`could not start the test PostgreSQL: ${lastError}`);
}

/** A directory holding initdb, pg_ctl and postgres: PATH first, then Debian's layout. */
function findBinaries(): string | undefined {
  const needed = ['initdb', 'pg_ctl', 'postgres'];
  const debian = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join('/usr/lib/postgresql', version, 'bin'))
    : [];
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...onPath, ...debian]) {
    if (!needed.every((name) => existsSync(join(dir, name)))) continue;
    // PATH often holds symlinks: pg_ctl must sit beside the real postgres it starts.
    const real = join(realpathSync(join(dir, 'initdb')), '..');
    if (needed.every((name) => existsSync(join(real, name)))) return real;
  }
  return undefined;
}

function installFromDebian(): string {
  const hint = 'install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`PostgreSQL binaries (initdb, pg_ctl, postgres) not found: ${hint}`);
  }
  console.log('[test postgres] PostgreSQL not found: installing Debian package postgresql');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'postgresql']]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 600_000 });
    if (result.status !== 0) {
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.slice(-2000);
      throw new Error(`apt-get ${args.join(' ')} failed (${hint}):\n${output}`);
    }
  }
  const bin = findBinaries();
  if (!bin) throw new Error(`postgresql installed but its binaries were not found: ${hint}`);
  return bin;
}

function ensurePostgresUser(): void {
  if (spawnSync('id', ['-u', 'postgres']).status === 0) return;
  const result = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new Error(`cannot create the postgres OS user to run the test server: ${result.stderr}`);
  }
}

function capture(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

function exec(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function serverVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version.split(' ')[0];
  } finally {
    await client.end();
  }
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
