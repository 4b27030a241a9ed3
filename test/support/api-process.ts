import { signToken } from '@truceline/config';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MALLOC_TUNABLES } from '../../infra/start/malloc-tunables';
import { BUILT_ROOT, REPO_ROOT } from './shared-scenarios';

export const BUILT_API = join(BUILT_ROOT, 'apps/api/src/main.js');

/** Variables of the parent that must not leak into the child: each test chooses its own store. */
const INHERITED_NOT = /^(PORT|DATABASE_URL|KAFKA_BROKERS|TRUCELINE_.*|NODE_ENV)$/;
const OUTPUT_KEPT = 20_000;

/** Builds dist/ when a test that spawns the built API runs without `npm run build` first. */
export function ensureBuilt(): void {
  if (existsSync(BUILT_API)) return;
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/**
 * The built embedded process (`node dist/apps/api/src/main.js`) as a child that a test can
 * SIGKILL and start again on the same data: what an operator's host does on a power cut.
 */
export class ApiProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  readonly baseUrl: string;

  constructor(private readonly env: Record<string, string>) {
    this.baseUrl = `http://127.0.0.1:${env.PORT}`;
  }

  /** Starts the process; does not wait for it to listen (see `waitUntilServing`). */
  start(): void {
    if (this.child) throw new Error('the API process is already running');
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !INHERITED_NOT.test(name)),
    );
    const child = spawn(process.execPath, [BUILT_API], {
      cwd: REPO_ROOT,
      // Started as `npm start` starts it: with its allocator settings, unless a test sets its own.
      env: { GLIBC_TUNABLES: MALLOC_TUNABLES, ...inherited, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.output += `\n--- started pid ${child.pid} ---\n`;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.output += `\n--- pid ${child.pid} exited (${signal ?? code}) ---\n`;
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    this.child = child;
  }

  /** Waits until the exercise clock answers 200: the store is open and the HTTP edge listens. */
  async waitUntilServing(timeoutMs = 60_000): Promise<void> {
    const token = signToken(this.env.TRUCELINE_JWT_SECRET, { role: 'operator', sub: 'e2e' });
    const giveUpAt = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < giveUpAt) {
      if (!this.child) throw new Error(`the API process exited while starting:\n${this.output}`);
      try {
        const response = await fetch(`${this.baseUrl}/v1/exercise/clock`, {
          headers: { authorization: `Bearer ${token}` },
        });
        last = `${response.status} ${await response.text()}`;
        if (response.ok) return;
      } catch (error) {
        last = String((error as Error).cause ?? error);
      }
      await sleep(100);
    }
    throw new Error(
      `the API process did not serve within ${timeoutMs} ms (${last}):\n${this.output}`,
    );
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed; resolves once the process is gone. */
  async crash(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the orderly shutdown a host asks for; resolves once the process is gone. */
  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  /** The running process's id (to read its memory), if it runs. */
  get pid(): number | undefined {
    return this.child?.pid ?? undefined;
  }

  /** What the processes printed so far (the last few kilobytes), for failure messages. */
  get log(): string {
    return this.output;
  }
}
