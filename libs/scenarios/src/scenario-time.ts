const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** `t0` plus `hours` (fractional allowed), as an ISO instant in UTC. */
export const hoursAfter = (t0: string, hours: number): string =>
  new Date(Date.parse(t0) + Math.round(hours * HOUR_MS)).toISOString();

export interface ScenarioTimeline {
  /** The instant the scenario's hours count from. */
  t0: string;
  /** How far T0 lies after the scenario's `start`, in milliseconds (0: not shifted). */
  shiftMs: number;
}

/**
 * Where a scenario's T0 falls on an instance whose exercise clock reads `clockNow`. The exercise
 * clock never moves back (SPEC §2), so when it already stands past the scenario's `start` the
 * whole story is moved later, to the clock's now rounded up to a whole minute: every step keeps
 * its distance from T0, so every deadline falls at the same step as written.
 */
export function scenarioTimeline(start: string, clockNow: string): ScenarioTimeline {
  const startMs = Date.parse(start);
  const nowMs = Date.parse(clockNow);
  if (Number.isNaN(startMs)) throw new Error(`not an ISO instant: ${start}`);
  if (Number.isNaN(nowMs)) throw new Error(`not an ISO instant: ${clockNow}`);
  if (nowMs <= startMs) return { t0: new Date(startMs).toISOString(), shiftMs: 0 };
  const t0Ms = Math.ceil(nowMs / MINUTE_MS) * MINUTE_MS;
  return { t0: new Date(t0Ms).toISOString(), shiftMs: t0Ms - startMs };
}

/** A shift for humans: "+6 d 3 h 12 min". */
export function describeShift(shiftMs: number): string {
  const minutes = Math.round(shiftMs / MINUTE_MS);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [days && `${days} d`, hours && `${hours} h`, minutes % 60 && `${minutes % 60} min`];
  return `+${parts.filter(Boolean).join(' ') || '0 min'}`;
}
