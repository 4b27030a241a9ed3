import { SqlClient } from '@truceline/event-store';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * CPU time (µs) used so far by every process of the local PostgreSQL server, living or not: the
 * backends alive now, the postmaster, and (through the postmaster's cutime/cstime) the backends
 * that have exited, so a pool closing idle connections does not hide their work. Null when the
 * server is not on this machine.
 */
export async function postgresCpu(postmasterPid: number): Promise<number>;
export async function postgresCpu(postmasterPid: number | null): Promise<number | null>;
export async function postgresCpu(postmasterPid: number | null): Promise<number | null> {
  if (postmasterPid === null) return null;
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(join('/proc', entry, 'stat'), 'utf8').catch(() => null);
    if (stat === null) continue;
    // After the command's closing parenthesis: state, ppid, …, utime and stime (fields 14, 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(entry) === postmasterPid)
      // Its own, and that of the backends that have exited (cutime, cstime: fields 16, 17).
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    else if (Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10_000; // clock ticks of 10 ms
}

/** The pid of the server's postmaster when its data directory is on this machine, else null. */
export async function postmasterOf(sql: SqlClient): Promise<number | null> {
  try {
    const { rows } = await sql.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
    );
    const text = await readFile(join(rows[0].setting, 'postmaster.pid'), 'utf8');
    return Number(text.split('\n')[0]);
  } catch {
    return null;
  }
}

/**
 * Each living process of the server, named by what it serves: a client backend by its
 * connection's `application_name` (the benches name the API's, the relay's and their own), any
 * other by its backend type (autovacuum worker, walwriter…).
 */
export async function postgresProcesses(sql: SqlClient): Promise<{ pid: number; name: string }[]> {
  const { rows } = await sql.query<{ pid: number; name: string }>(
    `SELECT pid, CASE WHEN backend_type = 'client backend'
                      THEN coalesce(nullif(application_name, ''), 'unnamed client')
                      ELSE backend_type END AS name
       FROM pg_stat_activity`,
  );
  return rows;
}

/**
 * CPU time (µs) used so far by each living process of the server, by pid, named as
 * `postgresProcesses` names it. Null when the server is not on this machine.
 */
export async function postgresCpuByProcess(
  sql: SqlClient,
): Promise<Map<number, { name: string; cpu: number }> | null> {
  const cpu = new Map<number, { name: string; cpu: number }>();
  for (const { pid, name } of await postgresProcesses(sql)) {
    const stat = await readFile(join('/proc', String(pid), 'stat'), 'utf8').catch(() => null);
    if (stat === null) return null;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpu.set(Number(pid), { name, cpu: (Number(fields[11]) + Number(fields[12])) * 10_000 });
  }
  return cpu;
}
