/**
 * `npm run start:distributed`: the API, the relay, the deadline scheduler and the three services
 * as separate processes against DATABASE_URL and KAFKA_BROKERS — bringing up a throwaway
 * PostgreSQL and a local Kafka when either is unset. Each process's output is prefixed with its
 * name; Ctrl-C stops them all (and whatever this script started).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseBrokers, waitForGroupCoordinator } from '@truceline/messaging';
import { PROCESSES } from '@truceline/workflows';
import { startLocalKafka } from '../kafka/local-kafka';
import { startThrowawayPostgres } from '../postgres/pg-test-server';

const COLORS = [36, 33, 35, 32, 34, 31];

function repoRoot(): string {
  for (let dir = __dirname; dir !== '/'; dir = resolve(dir, '..')) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'nest-cli.json'))) return dir;
  }
  throw new Error('repository root not found');
}

function prefixed(child: ChildProcess, name: string, color: number): void {
  const tag = process.stdout.isTTY ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => console.log(`${tag} ${line}`));
  }
}

export async function main(): Promise<void> {
  const root = repoRoot();
  const dist = join(root, 'dist');
  const stops: (() => Promise<void>)[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };

  if (!env.DATABASE_URL) {
    console.log(
      '[distributed] DATABASE_URL unset: starting a throwaway PostgreSQL (data is discarded on exit)',
    );
    const pg = await startThrowawayPostgres();
    stops.push(() => pg.stop());
    env.DATABASE_URL = pg.url;
  }
  if (!env.KAFKA_BROKERS) {
    console.log(
      '[distributed] KAFKA_BROKERS unset: starting a local Apache Kafka (data is discarded on exit)',
    );
    const kafka = await startLocalKafka({ log: (line) => console.log(`[kafka] ${line}`) });
    stops.push(() => kafka.stop());
    env.KAFKA_BROKERS = kafka.brokers.join(',');
  }
  console.log(`[distributed] DATABASE_URL and KAFKA_BROKERS=${env.KAFKA_BROKERS}`);
  // The services join consumer groups at once: wait until the brokers can serve them, instead
  // of every consumer logging "coordinator not available" until they can.
  let waited = false;
  await waitForGroupCoordinator({
    brokers: parseBrokers(env.KAFKA_BROKERS),
    onWaiting: (state) => {
      if (!waited) console.log(`[distributed] waiting for the brokers to serve groups (${state})`);
      waited = true;
    },
  });
  if (waited) console.log('[distributed] the brokers serve consumer groups');

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('[distributed] stopping every process…');
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(e));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    await startAll(dist, root, env, children, () => stopping, stopAll);
  } catch (error) {
    console.error('[distributed]', error);
    await stopAll(1);
  }
  console.log('[distributed] all processes started; Ctrl-C stops them');
}

async function startAll(
  dist: string,
  root: string,
  env: NodeJS.ProcessEnv,
  children: Map<string, ChildProcess>,
  stopping: () => boolean,
  stopAll: (code: number) => Promise<void>,
): Promise<void> {
  // PROCESSES lists the API first, so its migrations and policy adoption precede the others.
  for (const [index, spec] of PROCESSES.entries()) {
    const child = spawn(process.execPath, [join(dist, spec.entry), ...spec.args], {
      cwd: root,
      env: { ...env, ...(spec.metricsPort ? { METRICS_PORT: String(spec.metricsPort) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(spec.name, child);
    prefixed(child, spec.name, COLORS[index % COLORS.length]);
    child.on('exit', (code, signal) => {
      if (stopping()) return;
      console.log(`[distributed] ${spec.name} exited (${signal ?? code}); stopping the rest`);
      void stopAll(1);
    });
    if (spec.name === 'api') await waitForApi(env.PORT ?? '3000');
  }
}

async function waitForApi(port: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the API did not become ready within 60 s');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error('[distributed]', error);
    process.exit(1);
  });
}
