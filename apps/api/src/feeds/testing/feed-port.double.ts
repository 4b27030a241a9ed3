import type { Actor } from '@truceline/domain';
import type { CommandResult, FeedEntry, FeedPort } from '@truceline/workflows';

const INCIDENT = '7d0c6a2e-4b1f-4c3e-9a51-1f2e3d4c5b6a';

export const feedEntry = (seq: number, overrides: Partial<FeedEntry> = {}): FeedEntry => ({
  seq,
  id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
  type: 'WarningIssued',
  incidentId: INCIDENT,
  occurredAt: '2025-06-01T08:00:00.000Z',
  recordedAt: '2025-06-01T08:00:01.000Z',
  position: seq * 10,
  exercise: false,
  data: { channel: 'hotline' },
  ...overrides,
});

/**
 * Partner feeds in memory for the edge's tests: `append` adds entries and tells the listeners,
 * as the runtime's feed does; the real feed is tested against the real store elsewhere.
 */
export class FeedPortDouble implements FeedPort {
  readonly entries = new Map<string, FeedEntry[]>();
  readonly listeners = new Set<() => void>();
  readonly acknowledged: { partner: string; eventId: string; actor: Actor }[] = [];
  pageCalls = 0;
  headCalls = 0;

  append(partner: string, count = 1): void {
    const feed = this.entries.get(partner) ?? [];
    for (let i = 0; i < count; i++) feed.push(feedEntry(feed.length + 1));
    this.entries.set(partner, feed);
    for (const listener of this.listeners) listener();
  }

  async page(partner: string, after: number, limit: number): Promise<FeedEntry[]> {
    this.pageCalls++;
    await new Promise((resolve) => setImmediate(resolve));
    return (this.entries.get(partner) ?? []).filter((e) => e.seq > after).slice(0, limit);
  }

  async entry(partner: string, eventId: string): Promise<FeedEntry | null> {
    return (this.entries.get(partner) ?? []).find((e) => e.id === eventId) ?? null;
  }

  async head(partner: string): Promise<number> {
    this.headCalls++;
    return this.entries.get(partner)?.length ?? 0;
  }

  async acknowledge(partner: string, eventId: string, actor: Actor): Promise<CommandResult> {
    this.acknowledged.push({ partner, eventId, actor });
    return { incidentId: INCIDENT, eventId: 'ack-1', revision: 7, position: 70 };
  }

  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
