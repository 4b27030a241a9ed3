import { Actor } from '@truceline/domain';
import { IncidentViews } from '@truceline/projections';
import { IncidentCommandHandler } from './incident-command.handler';
import { PeriodicPass } from './periodic-pass';
import { Clock } from './runtime.port';

export const SCHEDULER_ACTOR: Actor = { id: 'deadline-scheduler', role: 'service' };

/**
 * Appends DeadlineMissed for every obligation whose dueAt the clock has passed (SPEC §5):
 * within a tick (1 s) of dueAt, at once when the exercise clock jumps. The event id derives from
 * the incident and obligation, so restarts and several schedulers never add a second one.
 */
export class DeadlineScheduler {
  private readonly passes: PeriodicPass;

  constructor(
    private readonly incidents: IncidentCommandHandler,
    private readonly views: IncidentViews,
    private readonly clock: Clock,
    onError: (error: unknown) => void = () => undefined,
    intervalMs = 1000,
  ) {
    this.passes = new PeriodicPass(() => this.pass(), intervalMs, onError);
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  /** One pass; concurrent calls coalesce into one more pass after the current one. */
  tick(): Promise<void> {
    return this.passes.tick();
  }

  private async pass(): Promise<void> {
    const now = this.clock.now();
    for (const incidentId of await this.views.dueBefore(now)) {
      await this.incidents.react(
        incidentId,
        { type: 'RecordMissedDeadlines', data: { now: now.toISOString() } },
        { actor: SCHEDULER_ACTOR, occurredAt: now.toISOString() },
      );
    }
  }
}
