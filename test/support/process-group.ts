import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBuilt } from './api-process';
import { BUILT_ROOT, REPO_ROOT } from './shared-scenarios';

/** Variables of the parent that must not leak into a child: each test chooses its own. */
const INHERITED_NOT =
  /^(PORT|DATABASE_URL|KAFKA_BROKERS|METRICS_PORT|LOG_LEVEL|TRUCELINE_.*|NODE_ENV)$/;
const OUTPUT_KEPT = 20_000;
/**
 * Loaded before the app (`node --import`): once the process that started it is gone (the
 * child is re-parented), it SIGKILLs itself rather than consume from the broker as an orphan.
 */
const ORPHAN_GUARD =
  'data:text/javascript,const parent = process.ppid; setInterval(() => { ' +
  "if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); }, 500).unref();";

/** The built file of an app entry, e.g. `apps/relay/src/main.js` → dist/apps/relay/src/main.js. */
export const builtEntry = (entry: string): string => join(BUILT_ROOT, entry);

/** Builds dist/ when needed; fails loudly when an entry is still missing afterwards. */
export function ensureBuiltEntries(entries: readonly string[]): void {
  ensureBuilt();
  const missing = entries.filter((entry) => !existsSync(builtEntry(entry)));
  if (missing.length > 0)
    throw new Error(`not built: ${missing.join(', ')} (run \`npm run build\`)`);
}

export interface BuiltAppOptions {
  /** Names the process in logs and summaries, e.g. `verification-a`. */
  name: string;
  /** The app's entry below dist/, e.g. `apps/relay/src/main.js`. */
  entry: string;
  /** After the entry, e.g. the name of a service. */
  args?: readonly string[];
  env: Record<string, string>;
  /** Answers 200 once the process does its job (its /health/ready). */
  readyUrl: string;
  /** Options for node itself, before the entry (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: readonly string[];
}

/**
 * One built app (`node dist/<entry>`) as a child process a test can SIGKILL and start again
 * with the same environment — what a supervisor does after a power cut. Generalizes ApiProcess
 * to any app of distributed mode.
 */
export class BuiltAppProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private killing = false;
  /** Exits nobody asked for (`name pid signal/code`): a process died on its own. */
  readonly unexpectedExits: string[] = [];
  /** Every pid this process had, in start order. */
  readonly pids: number[] = [];

  constructor(readonly options: BuiltAppOptions) {}

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the process; does not wait for it to be ready (see `waitUntilReady`). */
  start(): void {
    if (this.child) throw new Error(`${this.name} is already running`);
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !INHERITED_NOT.test(name)),
    );
    const child = spawn(
      process.execPath,
      [
        ...(this.options.nodeArgs ?? []),
        '--import',
        ORPHAN_GUARD,
        builtEntry(this.options.entry),
        ...(this.options.args ?? []),
      ],
      {
        cwd: REPO_ROOT,
        env: { ...inherited, ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.output += `\n--- ${this.name}: started pid ${child.pid} ---\n`;
    this.pids.push(child.pid ?? -1);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const how = signal ?? code;
        this.output += `\n--- ${this.name}: pid ${child.pid} exited (${how}) ---\n`;
        if (!this.killing) this.unexpectedExits.push(`${this.name} pid ${child.pid} (${how})`);
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    this.killing = false;
    this.child = child;
  }

  /** Polls the ready URL until it answers 200; fails at once if the process exits meanwhile. */
  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    let last = 'no answer';
    const child = this.child;
    while (Date.now() < giveUpAt) {
      if (!child || this.child !== child)
        throw new Error(`${this.name} exited while starting:\n${this.output}`);
      try {
        const response = await fetch(this.options.readyUrl, {
          signal: AbortSignal.timeout(2_000),
        });
        last = `${response.status} ${await response.text()}`;
        if (response.ok) return;
      } catch (error) {
        last = String((error as Error).cause ?? error);
      }
      await sleep(100);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms (${last}):\n${this.output}`);
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed; resolves once the process is gone. */
  async crash(): Promise<void> {
    if (!this.child) return;
    this.killing = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** What the process printed so far (the last few kilobytes of every run). */
  get log(): string {
    return this.output;
  }
}

/**
 * The processes of one test, killed together in afterAll. Should the test runner die first
 * (SIGKILL, a CI timeout), each child notices it was orphaned and kills itself: handlers on
 * `process` would not help, as jest hands tests a copy of it that real signals never reach.
 */
export class ProcessGroup {
  private readonly processes = new Map<string, BuiltAppProcess>();

  add(options: BuiltAppOptions): BuiltAppProcess {
    if (this.processes.has(options.name)) throw new Error(`${options.name} added twice`);
    const app = new BuiltAppProcess(options);
    this.processes.set(options.name, app);
    return app;
  }

  get(name: string): BuiltAppProcess {
    const app = this.processes.get(name);
    if (!app) throw new Error(`no process ${name}`);
    return app;
  }

  get all(): BuiltAppProcess[] {
    return [...this.processes.values()];
  }

  /** Exits of any process that nobody caused. */
  unexpectedExits(): string[] {
    return this.all.flatMap((p) => p.unexpectedExits);
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((p) => p.crash()));
  }

  /** Every process's recent output, for failure messages. */
  logs(): string {
    return this.all.map((p) => `===== ${p.name} =====\n${p.log.trim()}`).join('\n\n');
  }
}
