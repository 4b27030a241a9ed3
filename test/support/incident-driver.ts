import type { IncidentView } from '@truceline/projections';
import { InProcessSystem } from './in-process-system';
import {
  Created,
  freshSector,
  hoursAfter,
  LoggedEvent,
  TrucelineApi,
  verifierOf,
} from './truceline-api';

/** `member capability` of the tasks of one tier, sorted. */
export const tasksOf = (view: IncidentView, tier: 2 | 3) =>
  view.coalitionTasks
    .filter((t) => t.tier === tier)
    .map((t) => `${t.member} ${t.capability}`)
    .sort();

/** The one obligation of a kind (not for coalition-ack, one per task). */
export const obligation = (view: IncidentView, kind: string) => {
  const found = view.obligations.filter((o) => o.kind === kind);
  if (found.length !== 1)
    throw new Error(`expected one ${kind} obligation: ${JSON.stringify(view)}`);
  return found[0];
};

/** `obligation[:refId]` of every DeadlineMissed, sorted: duplicates show. */
export const missedKeys = (events: LoggedEvent[]) =>
  events
    .filter((e) => e.type === 'DeadlineMissed')
    .map((e) => `${String(e.data.obligation)}${e.data.refId ? `:${String(e.data.refId)}` : ''}`)
    .sort();

/**
 * Drives incidents of one instance through its HTTP API, waiting after each command until the
 * services have reacted (the runtime's settle), so a test reads their effects at once.
 */
export class IncidentDriver {
  constructor(
    readonly api: TrucelineApi,
    readonly system: InProcessSystem,
  ) {}

  settle(): Promise<void> {
    return this.system.runtime.settle();
  }

  async report(sector: string, occurredAt?: string): Promise<Created> {
    const created = await this.api.command('/v1/incidents', {
      location: { sector, frontlineKm: 512.5 },
      category: 'artillery',
      severity: 'major',
      source: { kind: 'sensor', id: 'sensor-0412' },
      summary: 'Shelling near the line of contact',
      ...(occurredAt && { occurredAt }),
    });
    await this.settle();
    return created;
  }

  async verdict(id: string, verdict: 'confirmed' | 'rejected', occurredAt?: string) {
    const created = await this.api.command(`/v1/incidents/${id}/verdict`, {
      verdict,
      reason: 'operator override',
      ...(occurredAt && { occurredAt }),
    });
    await this.settle();
    return created;
  }

  async finding(id: string, verifier: string, finding: string, occurredAt?: string) {
    const created = await this.api.command(
      `/v1/incidents/${id}/findings`,
      { verifier, finding, evidence: [`img-${verifier}`], ...(occurredAt && { occurredAt }) },
      verifierOf(verifier),
    );
    await this.settle();
    return created;
  }

  async post(id: string, path: string, body: Record<string, unknown>): Promise<Created> {
    const created = await this.api.command(`/v1/incidents/${id}/${path}`, body);
    await this.settle();
    return created;
  }

  /** A confirmed breach reported and confirmed at the clock's now: warning due now + 24 h. */
  async confirmed(sector = freshSector()): Promise<{ id: string; warningDueAt: string }> {
    const { incidentId: id } = await this.report(sector);
    const confirmation = await this.verdict(id, 'confirmed');
    const [event] = (await this.api.events(id)).filter((e) => e.id === confirmation.eventId);
    return { id, warningDueAt: hoursAfter(event.occurredAt, 24) };
  }

  view(id: string): Promise<IncidentView> {
    return this.api.incident(id);
  }

  async count(id: string, type: string): Promise<number> {
    return (await this.api.eventsOfType(id, type)).length;
  }

  /** Forces a scheduler pass (besides its own timer) and waits for its effects. */
  async tick(): Promise<void> {
    const scheduler = this.system.runtime.service('scheduler');
    if (!scheduler?.tick) throw new Error('the runtime runs without its deadline scheduler');
    await scheduler.tick();
    await this.settle();
  }
}
