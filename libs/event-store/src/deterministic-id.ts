import { createHash } from 'node:crypto';

/** The namespace of every Truceline name-based id (a random v4, fixed forever: changing it changes every id). */
export const TRUCELINE_NAMESPACE = '5a3b4371-6fbf-4eab-8c4d-c79cc4b713de';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Name-based UUID version 5 (SHA-1) of RFC 9562 §5.5: the same name always gives the same id. */
export function uuidV5(name: string, namespace: string): string {
  if (!UUID.test(namespace)) throw new Error(`namespace must be a UUID: ${namespace}`);
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10xx (RFC)
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A stable event id derived from what the event is about, e.g.
 * deterministicId('IncidentTierChanged', incidentId, '2'): a replay or a redelivered message
 * computes the same id, and the store's idempotent append turns the repeat into a no-op.
 * The parts are hashed as a JSON array, so ('a/b', 'c') and ('a', 'b/c') never collide.
 */
export function deterministicId(...parts: string[]): string {
  if (parts.length === 0) throw new Error('deterministicId needs at least one part');
  return uuidV5(JSON.stringify(parts), TRUCELINE_NAMESPACE);
}
