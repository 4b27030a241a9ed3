import { StoredEvent } from './envelope';
import {
  INCIDENT_EVENT_SCHEMA_VERSIONS,
  IncidentEvent,
  IncidentEventType,
  isIncidentEventType,
} from './events';
import { IncidentFact } from '../incident/evolve';

/** Lifts the data of one schema version of a type to the next version's shape. */
export type Upcaster = (data: unknown) => unknown;

/**
 * One upcaster per old shape, keyed by type and the version it lifts from: a fact stored as
 * version n is passed through n → n+1 → … → current. Every type is at version 1 today, so
 * there is none yet; the first change of a payload adds its upcaster (and a test) here.
 */
const UPCASTERS: { readonly [K in IncidentEventType]?: Readonly<Record<number, Upcaster>> } = {};

/** A stored fact the running code cannot read: a newer schema, or an old one with no upcaster. */
export class UndecodableFactError extends Error {
  constructor(
    readonly eventId: string,
    message: string,
  ) {
    super(`event ${eventId}: ${message}`);
    this.name = 'UndecodableFactError';
  }
}

/**
 * The one seam between the log and the domain: a stored event of an incident stream, lifted to
 * the current shape of its type. Null for what is not an incident fact (another stream's event,
 * a type this code does not know); throws for a schema version it cannot read, rather than fold
 * a shape the rules were not written for.
 */
export function decodeIncidentFact(stored: StoredEvent): IncidentFact | null {
  const type = stored.type;
  if (!isIncidentEventType(type)) return null;
  const current = INCIDENT_EVENT_SCHEMA_VERSIONS[type];
  const from = stored.schemaVersion;
  if (from > current)
    throw new UndecodableFactError(
      stored.id,
      `${type} v${from} is newer than this code (v${current})`,
    );
  // The type is known and the data has the current shape of that type: the pair is one member
  // of the union, which TypeScript cannot see through the dynamic key. A fact stored in the
  // current shape is the stored event itself (a fold decodes every event of the log: no copy).
  if (from === current) return stored as StoredEvent & IncidentEvent;
  let data = stored.data;
  for (let version = from; version < current; version++) {
    const upcast = UPCASTERS[type]?.[version];
    if (!upcast) throw new UndecodableFactError(stored.id, `no upcaster for ${type} v${version}`);
    data = upcast(data);
  }
  const event = { type, data } as IncidentEvent;
  return { ...stored, ...event };
}

/** Every incident fact of a stream, decoded; anything else is skipped. */
export const decodeIncidentFacts = (stored: readonly StoredEvent[]): IncidentFact[] =>
  stored.flatMap((e) => decodeIncidentFact(e) ?? []);
