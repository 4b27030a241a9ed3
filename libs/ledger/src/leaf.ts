import canonicalize from 'canonicalize';
import { StoredEvent } from '@truceline/domain';
import { hashLeaf } from './merkle/hashes';

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

/** RFC 8785 canonical JSON of the sealed envelope. */
export function canonicalEnvelope(event: StoredEvent): string {
  const text = canonicalize(sealedEnvelope(event));
  if (text === undefined) throw new Error(`event ${event.id} has no JSON form`);
  return text;
}

/** The leaf hash of an event: SHA-256(0x00 ‖ JCS(envelope)). */
export function leafHashOf(event: StoredEvent): Buffer {
  return hashLeaf(Buffer.from(canonicalEnvelope(event), 'utf8'));
}
