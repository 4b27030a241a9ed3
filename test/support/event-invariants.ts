/** The parts of a stored event (SPEC §4) the crash tests look at. */
export interface LoggedEvent {
  id: string;
  type: string;
  revision: number;
  data: unknown;
}

/** JSON with sorted keys, so two equal data objects compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What must never happen to a stream, however often a process crashed and a request was
 * retried: an event id twice, a revision twice or skipped, or the same fact (type and data)
 * appended twice. Returns one line per violation; empty when the stream is sound.
 */
export function streamViolations(events: readonly LoggedEvent[]): string[] {
  const violations: string[] = [];
  const seenIds = new Set<string>();
  const seenFacts = new Map<string, string>();
  events.forEach((event, index) => {
    if (seenIds.has(event.id)) violations.push(`event id ${event.id} appears twice`);
    seenIds.add(event.id);
    if (event.revision !== index) {
      violations.push(
        `event ${event.id} (${event.type}) has revision ${event.revision}, expected ${index}`,
      );
    }
    const fact = `${event.type} ${canonicalJson(event.data)}`;
    const first = seenFacts.get(fact);
    if (first)
      violations.push(`${event.type} appended twice with the same data (${first}, ${event.id})`);
    else seenFacts.set(fact, event.id);
  });
  return violations;
}

/** How many events of each type, e.g. `{ BreachConfirmed: 1, DeadlineMissed: 1 }`. */
export function countByType(events: readonly LoggedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { type } of events) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}
