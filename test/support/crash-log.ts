import { ScenarioResult } from '@truceline/scenarios';
import { ProcessGroup } from './process-group';

export interface KillRecord {
  /** Seconds since the log started. */
  at: number;
  process: string;
  where: string;
  pids?: string;
  /** Seconds from the restart until the process was ready again (joined its group). */
  readyAfter?: number;
}

export interface RunRecord {
  phase: string;
  name: string;
  seconds: number;
  result: ScenarioResult;
}

/**
 * SIGKILLs and restarts processes of a group at chosen moments of a scenario, and keeps what
 * happened when — the kills, how long each process took to be ready again, the scenario
 * timings — for the summary a distributed test prints.
 */
export class CrashLog {
  private readonly startedAt = Date.now();
  private readonly restarts: Promise<void>[] = [];
  readonly kills: KillRecord[] = [];
  readonly runs: RunRecord[] = [];
  readonly notes: string[] = [];

  constructor(private readonly group: ProcessGroup) {}

  get elapsed(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /**
   * SIGKILLs the process and starts it again at once; resolves when it is running again, while
   * its readiness (for a consumer: rejoining its group, which waits out the dead member's
   * session) is awaited in `restarted()`.
   */
  async killAndRestart(name: string, where: string): Promise<KillRecord> {
    const app = this.group.get(name);
    const record: KillRecord = { at: this.elapsed, process: name, where };
    this.kills.push(record);
    const before = app.pids.at(-1);
    await app.crash();
    app.start();
    record.pids = `${before} → ${app.pids.at(-1)}`;
    const restartedAt = Date.now();
    const pid = app.pids.at(-1);
    this.track(
      app.waitUntilReady(120_000).then(
        () => {
          record.readyAfter = (Date.now() - restartedAt) / 1000;
        },
        (error: unknown) => {
          // Killed again by the test before it was ready: not a failure of the process.
          if (app.pids.at(-1) === pid) throw error;
          record.where += ' [killed again before it was ready]';
        },
      ),
    );
    return record;
  }

  /** The same, `delayMs` from now, without holding up the caller (a kill in flight). */
  killLater(name: string, where: string, delayMs: number): void {
    this.track(
      new Promise((resolve, reject) =>
        setTimeout(
          () =>
            this.killAndRestart(name, `${where} (+${delayMs} ms)`).then(() => resolve(), reject),
          delayMs,
        ),
      ),
    );
  }

  /**
   * Kills and restarts the process the moment `trigger` resolves (in the background: the caller
   * goes on), then adds what `describe` tells about that moment to the record.
   */
  killWhen(
    name: string,
    where: string,
    trigger: Promise<unknown>,
    describe: () => Promise<string>,
  ): void {
    this.track(
      trigger.then(async () => {
        const record = await this.killAndRestart(name, where);
        record.where += ` ${await describe()}`;
      }),
    );
  }

  /** Kept for `restarted()`, which reports its failure; not an unhandled rejection meanwhile. */
  private track(work: Promise<void>): void {
    work.catch(() => undefined);
    this.restarts.push(work);
  }

  /** Resolves once every kill happened and every restarted process is ready again. */
  async restarted(): Promise<void> {
    for (let settled = 0; settled < this.restarts.length;) {
      const batch = this.restarts.slice(settled);
      await Promise.all(batch);
      settled += batch.length;
    }
  }

  summary(): string {
    const lines = [`distributed e2e: ${this.elapsed.toFixed(1)} s in all`, 'scenarios:'];
    for (const { phase, name, seconds, result } of this.runs) {
      const resent = result.steps.reduce((n, s) => n + (s.resent ?? 0), 0);
      lines.push(
        `  ${phase.padEnd(7)} ${name.padEnd(28)} ${seconds.toFixed(1).padStart(6)} s  ` +
          `${result.steps.filter((s) => s.ok).length}/${result.steps.length + result.notRun} steps ok` +
          `${resent ? `, ${resent} resent` : ''}  ${result.passed ? 'passed' : 'FAILED'}`,
      );
    }
    lines.push('SIGKILLs (each restarted at once):');
    for (const kill of this.kills) {
      const ready =
        kill.readyAfter === undefined ? 'not ready again' : `ready after ${kill.readyAfter} s`;
      lines.push(
        `  t=${kill.at.toFixed(1).padStart(6)} s  ${kill.process.padEnd(17)} ${kill.where}; ` +
          `pid ${kill.pids ?? '?'}; ${ready}`,
      );
    }
    return [...lines, ...this.notes.map((note) => `note: ${note}`)].join('\n');
  }
}
