import { hash } from 'node:crypto';
import { Actor, EventMetadata, incidentIdOf, ROLES, StoredEvent } from '@truceline/domain';

/** Every stored event, keyed by incident (SPEC §7). */
export const EVENTS_TOPIC = 'truceline.events.v1';

/** `ce_source` of the events the relay publishes from the log. */
export const EVENTS_SOURCE = '/truceline/events';

/** One topic per partner so broker ACLs can confine each ministry to its own (SPEC §7). */
export function feedTopic(partner: string): string {
  if (!/^[A-Za-z]{2}$/.test(partner)) {
    throw new Error(`not a partner code (ISO 3166-1 alpha-2 or EU): ${JSON.stringify(partner)}`);
  }
  return `truceline.feed.${partner.toLowerCase()}.v1`;
}

/** What kafkajs takes from a producer: binary content mode, headers as strings. */
export interface OutgoingKafkaMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** What kafkajs hands a consumer: key, value and header values arrive as Buffers. */
export interface IncomingKafkaMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue>;
}

/** A message the consumer cannot turn back into an event: it parks it, never retries it. */
export class MalformedMessageError extends Error {
  readonly code = 'malformed-message';

  constructor(
    /** Which part is wrong, e.g. `header ce_position`, `value`, `key`. */
    readonly field: string,
    message: string,
  ) {
    super(`malformed message: ${field}: ${message}`);
    this.name = new.target.name;
  }
}

const SPEC_VERSION = '1.0';
const CONTENT_TYPE = 'application/json';
const TYPE_PATTERN = /^truceline\.([A-Z][A-Za-z0-9]*)\.v([1-9][0-9]*)$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The partition key: the incident id, so one incident's events stay in one partition and keep
 * their order; a stream outside any incident (e.g. `policy-escalation`) is its own key.
 */
export const partitionKeyOf = (streamId: string): string => incidentIdOf(streamId) ?? streamId;

/** `truceline.<Type>.v<schemaVersion>`: `truceline.BreachReported.v1` for schema version 1. */
export const cloudEventType = (event: Pick<StoredEvent, 'type' | 'schemaVersion'>): string =>
  `truceline.${event.type}.v${event.schemaVersion}`;

/**
 * The W3C trace context of an event: the one it was stored with, or else one derived from its
 * correlation id (trace) and id (span), so every process names the same trace for a command's
 * events without any having to store it.
 */
export function traceparentOf(event: Pick<StoredEvent, 'id' | 'metadata'>): string {
  if (event.metadata.traceparent) return event.metadata.traceparent;
  const traceId = sha256Hex(event.metadata.correlationId).slice(0, 32);
  const spanId = sha256Hex(event.id).slice(0, 16);
  return `00-${traceId}-${spanId}-01`;
}

/**
 * A stored event as a Kafka message in CloudEvents 1.0 binary content mode (SPEC §7): the
 * attributes in `ce_` headers, the data as the JSON value. The extensions carry the rest of the
 * envelope, so a consumer rebuilds the StoredEvent without reading the store.
 *
 * No record timestamp: Kafka stamps the append time. `occurredAt` may lie far in the past (late
 * reports, exercise clock) and belongs in `ce_time`, not in the broker's retention clock.
 */
export function toKafkaMessage(event: StoredEvent, opts: { source: string }): OutgoingKafkaMessage {
  const key = partitionKeyOf(event.streamId);
  const { metadata } = event;
  const headers: Record<string, string> = {
    ce_specversion: SPEC_VERSION,
    ce_id: event.id,
    ce_type: cloudEventType(event),
    ce_source: opts.source,
    ce_subject: key,
    ce_time: event.occurredAt,
    'content-type': CONTENT_TYPE,
    ce_position: String(event.position),
    ce_revision: String(event.revision),
    ce_streamid: event.streamId,
    ce_recordedat: event.recordedAt,
    ce_schemaversion: String(event.schemaVersion),
    ce_correlationid: metadata.correlationId,
    ce_policyversion: String(metadata.policyVersion),
    ce_actor: JSON.stringify(metadata.actor),
    traceparent: traceparentOf(event),
  };
  if (metadata.causationId !== null) headers.ce_causationid = metadata.causationId;
  if (metadata.exercise) headers.ce_exercise = 'true';
  return { key, value: JSON.stringify(event.data), headers };
}

/**
 * The inverse of toKafkaMessage. Anything missing or inconsistent throws MalformedMessageError:
 * a consumer must never act on half an envelope.
 */
export function fromKafkaMessage(message: IncomingKafkaMessage): StoredEvent {
  const headers = new HeaderReader(message.headers ?? {});
  if (headers.required('ce_specversion') !== SPEC_VERSION) {
    throw new MalformedMessageError('header ce_specversion', `expected ${SPEC_VERSION}`);
  }
  const contentType = headers.required('content-type');
  if (contentType.split(';')[0].trim() !== CONTENT_TYPE) {
    throw new MalformedMessageError('header content-type', `expected ${CONTENT_TYPE}`);
  }

  const id = headers.required('ce_id');
  if (!UUID_PATTERN.test(id)) throw new MalformedMessageError('header ce_id', 'not a UUID');
  const typeMatch = TYPE_PATTERN.exec(headers.required('ce_type'));
  if (!typeMatch) {
    throw new MalformedMessageError('header ce_type', 'expected truceline.<Type>.v<version>');
  }
  const schemaVersion = headers.integer('ce_schemaversion', 1);
  if (String(schemaVersion) !== typeMatch[2]) {
    throw new MalformedMessageError('header ce_schemaversion', 'does not match ce_type');
  }

  const streamId = headers.required('ce_streamid');
  const partitionKey = partitionKeyOf(streamId);
  if (headers.required('ce_subject') !== partitionKey) {
    throw new MalformedMessageError('header ce_subject', `does not match stream ${streamId}`);
  }
  const key = message.key == null ? null : text(message.key);
  if (key !== partitionKey) {
    throw new MalformedMessageError('key', `expected ${partitionKey} for stream ${streamId}`);
  }

  const event: StoredEvent = {
    id,
    type: typeMatch[1],
    schemaVersion,
    streamId,
    revision: headers.integer('ce_revision', 0),
    position: headers.integer('ce_position', 1),
    occurredAt: headers.instant('ce_time'),
    recordedAt: headers.instant('ce_recordedat'),
    data: parseValue(message.value),
    metadata: metadataOf(headers),
  };
  // A traceparent that merely repeats the derived one was not stored: leave it out, so the
  // envelope round-trips exactly; traceparentOf(event) gives it back.
  const traceparent = headers.optional('traceparent');
  if (traceparent !== undefined) {
    if (!TRACEPARENT_PATTERN.test(traceparent)) {
      throw new MalformedMessageError('header traceparent', 'not a W3C traceparent');
    }
    if (traceparent !== traceparentOf(event)) event.metadata.traceparent = traceparent;
  }
  return event;
}

function metadataOf(headers: HeaderReader): EventMetadata {
  const metadata: EventMetadata = {
    correlationId: headers.required('ce_correlationid'),
    causationId: headers.optional('ce_causationid') ?? null,
    actor: actorOf(headers.required('ce_actor')),
    policyVersion: headers.integer('ce_policyversion', 0),
  };
  const exercise = headers.optional('ce_exercise');
  if (exercise !== undefined) {
    if (exercise !== 'true') throw new MalformedMessageError('header ce_exercise', 'not "true"');
    metadata.exercise = true;
  }
  return metadata;
}

function actorOf(json: string): Actor {
  const bad = (why: string) => new MalformedMessageError('header ce_actor', why);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw bad('not JSON');
  }
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const { id, role, partner } = value as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') throw bad('id missing');
  if (!ROLES.includes(role as Actor['role'])) throw bad(`unknown role ${String(role)}`);
  if (partner !== undefined && typeof partner !== 'string') throw bad('partner not a string');
  const actor: Actor = { id, role: role as Actor['role'] };
  if (partner !== undefined) actor.partner = partner;
  return actor;
}

function parseValue(value: Buffer | string | null): unknown {
  if (value === null || value.length === 0) {
    throw new MalformedMessageError('value', 'missing (every event has data)');
  }
  try {
    return JSON.parse(text(value));
  } catch {
    throw new MalformedMessageError('value', 'not JSON');
  }
}

/** Header lookup over what kafkajs delivers: Buffers, strings, or arrays when a key repeats. */
class HeaderReader {
  constructor(private readonly raw: Record<string, HeaderValue>) {}

  optional(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (Array.isArray(value)) {
      if (value.length !== 1) throw new MalformedMessageError(`header ${name}`, 'repeated');
      return text(value[0]);
    }
    return text(value);
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined || value === '') {
      throw new MalformedMessageError(`header ${name}`, 'missing');
    }
    return value;
  }

  integer(name: string, min: number): number {
    const value = this.required(name);
    const number = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(number) || number < min) {
      throw new MalformedMessageError(`header ${name}`, `not an integer ≥ ${min}`);
    }
    return number;
  }

  /** An ISO 8601 instant, returned exactly as sent (the store's own formatting). */
  instant(name: string): string {
    const value = this.required(name);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(Date.parse(value))) {
      throw new MalformedMessageError(`header ${name}`, 'not an ISO 8601 instant');
    }
    return value;
  }
}

const text = (value: Buffer | string): string =>
  typeof value === 'string' ? value : value.toString('utf8');

const sha256Hex = (value: string): string => hash('sha256', value, 'hex');
