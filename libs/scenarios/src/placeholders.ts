/** `{run}`: an id unique to the run, e.g. to keep the sectors of two runs apart. */
const RUN = /\{run\}/g;
const INCIDENT = /\{incident(?::([^{}]+))?\}/g;
const TASK = /\{task:([^:{}]+):([^{}]+)\}/g;

/** Replaces `{run}` in every string (keys included) of a JSON value; returns a copy. */
export function replaceRun<T>(value: T, runId: string): T {
  if (typeof value === 'string') return value.replace(RUN, runId) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => replaceRun(item, runId)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key.replace(RUN, runId),
        replaceRun(item, runId),
      ]),
    ) as T;
  }
  return value;
}

/**
 * The incidents a scenario created: the first report is `{incident}`, a report step with
 * `"as": "NAME"` is also `{incident:NAME}`.
 */
export class IncidentRegistry {
  private first: string | undefined;
  private readonly named = new Map<string, string>();

  record(incidentId: string, name?: string): void {
    this.first ??= incidentId;
    if (name !== undefined) this.named.set(name, incidentId);
  }

  /** The incident of that name (the first one without a name); throws when there is none. */
  resolve(name?: string): string {
    const id = name === undefined ? this.first : this.named.get(name);
    if (id !== undefined) return id;
    throw new Error(
      name === undefined
        ? 'no incident yet: {incident} needs an earlier step that reports one (POST /v1/incidents → 201)'
        : `no incident named "${name}": a report step needs "as": "${name}"`,
    );
  }

  /** name → incident id; the unnamed first incident under "". */
  toJSON(): Record<string, string> {
    return { ...(this.first ? { '': this.first } : {}), ...Object.fromEntries(this.named) };
  }
}

export interface TaskPlaceholder {
  placeholder: string;
  member: string;
  capability: string;
}

/** Replaces `{run}`, `{incident}` and `{incident:NAME}` in a request path. */
export function resolvePath(path: string, runId: string, incidents: IncidentRegistry): string {
  return path
    .replace(RUN, runId)
    .replace(INCIDENT, (_match, name: string | undefined) =>
      encodeURIComponent(incidents.resolve(name)),
    );
}

/** The `{task:MEMBER:CAPABILITY}` placeholders of a path, in order. */
export const taskPlaceholders = (path: string): TaskPlaceholder[] =>
  [...path.matchAll(TASK)].map(([placeholder, member, capability]) => ({
    placeholder,
    member,
    capability,
  }));

/** Whatever `{…}` is left after every known placeholder was replaced. */
export const unknownPlaceholders = (path: string): string[] =>
  [...path.replace(TASK, '').matchAll(/\{[^{}]*\}/g)].map(([match]) => match);

/** The incident a resolved command path addresses (`/v1/incidents/{id}/…`), if any. */
export function incidentOfPath(path: string): string | undefined {
  const match = /^\/v1\/incidents\/([^/?#]+)/.exec(path);
  return match ? decodeURIComponent(match[1]) : undefined;
}

export interface TaskView {
  taskId: string;
  tier: number;
  member: string;
  capability: string;
  dueAt: string;
  status: string;
}

/**
 * `{task:MEMBER:CAPABILITY}`: the most recently assigned task of that member for that capability
 * that is still unanswered. A member can hold the same capability at tier 2 and again at tier 3
 * (GB air, FR air in the plan), so the highest tier wins, then the latest dueAt.
 */
export function pickTask(
  tasks: readonly TaskView[],
  member: string,
  capability: string,
): TaskView | undefined {
  return tasks
    .filter((t) => t.member === member && t.capability === capability && t.status === 'assigned')
    .reduce<TaskView | undefined>((best, task) => {
      if (!best) return task;
      if (task.tier !== best.tier) return task.tier > best.tier ? task : best;
      return Date.parse(task.dueAt) >= Date.parse(best.dueAt) ? task : best;
    }, undefined);
}
