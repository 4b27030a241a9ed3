import { Actor } from '@truceline/domain';
import { IncidentViews } from '@truceline/projections';
import { IncidentCommandHandler } from './incident-command.handler';
import { Clock } from './runtime.port';

export const SCHEDULER_ACTOR: Actor = { id: 'deadline-scheduler', role: 'service' };

/**
 * Appends DeadlineMissed for every obligation whose dueAt the clock has passed (SPEC §5):
 * within a tick (1 s) of dueAt, at once when the exercise clock jumps. The event id derives from
 * the incident and obligation, so restarts and several schedulers never add a second one.
 */
export class DeadlineScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly incidents: IncidentCommandHandler,
    private readonly views: IncidentViews,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; concurrent calls coalesce into one more pass after the current one. */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass()
      .catch(this.onError)
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          void this.tick();
        }
      });
    return this.running;
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
