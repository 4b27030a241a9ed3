import canonicalize from 'canonicalize';
import { StoredEvent } from '@truceline/domain';
import type { StoredEventJsonText } from '@truceline/event-store';
import { plainJson } from './canonical-json';
import { hashLeafHex } from './merkle/hashes';

/** The fields of the stored envelope a leaf covers (SPEC §10), nothing more. */
export function sealedEnvelope(event: StoredEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    streamId: event.streamId,
    revision: event.revision,
    position: event.position,
    occurredAt: event.occurredAt,
    recordedAt: event.recordedAt,
    data: event.data,
    metadata: event.metadata,
  };
}

/** RFC 8785 canonical JSON of the sealed envelope (see canonical-json.ts for the fast path). */
export function canonicalEnvelope(event: StoredEvent): string {
  const text = plainEnvelope(event) ?? canonicalize(sealedEnvelope(event));
  if (text === undefined) throw new Error(`event ${event.id} has no JSON form`);
  return text;
}

/**
 * The envelope's members written in their canonical order (data, id, metadata, occurredAt,
 * position, recordedAt, revision, schemaVersion, streamId, type: the UTF-16 order of the names)
 * when every field is of its declared type, as the store reads them; else undefined.
 */
function plainEnvelope(event: StoredEvent): string | undefined {
  const data = plainJson(event.data);
  const metadata = plainJson(event.metadata);
  const id = plainString(event.id);
  const occurredAt = plainString(event.occurredAt);
  const recordedAt = plainString(event.recordedAt);
  const streamId = plainString(event.streamId);
  const type = plainString(event.type);
  const position = plainNumber(event.position);
  const revision = plainNumber(event.revision);
  const schemaVersion = plainNumber(event.schemaVersion);
  if (
    data === undefined ||
    metadata === undefined ||
    id === undefined ||
    occurredAt === undefined ||
    recordedAt === undefined ||
    streamId === undefined ||
    type === undefined ||
    position === undefined ||
    revision === undefined ||
    schemaVersion === undefined
  ) {
    return undefined;
  }
  return (
    `{"data":${data},"id":${id},"metadata":${metadata},"occurredAt":${occurredAt},` +
    `"position":${position},"recordedAt":${recordedAt},"revision":${revision},` +
    `"schemaVersion":${schemaVersion},"streamId":${streamId},"type":${type}}`
  );
}

const plainString = (value: unknown) => (typeof value === 'string' ? plainJson(value) : undefined);
const plainNumber = (value: unknown) => (typeof value === 'number' ? plainJson(value) : undefined);

/** The leaf hash of an event: SHA-256(0x00 ‖ JCS(envelope)). */
export function leafHashOf(event: StoredEvent): Buffer {
  return Buffer.from(leafHashHexOf(event), 'hex');
}

/** leafHashOf as 64 hex digits: what the sealer stores and hashes on with, without a Buffer. */
export function leafHashHexOf(event: StoredEvent): string {
  return hashLeafHex(canonicalEnvelope(event));
}

/**
 * leafHashHexOf of an event read with its data and metadata as JSON text: parsed here, as the
 * store's read would have parsed them, so the leaf is the same; the parsed values live only
 * while this event is hashed.
 */
export function leafHashHexOfJsonText(event: StoredEventJsonText): string {
  return leafHashHexOf({
    ...event,
    data: JSON.parse(event.data) as unknown,
    metadata: JSON.parse(event.metadata) as StoredEvent['metadata'],
  });
}
