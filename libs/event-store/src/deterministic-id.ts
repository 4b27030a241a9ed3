import { hash } from 'node:crypto';

/** The namespace of every Truceline name-based id (a random v4, fixed forever: changing it changes every id). */
export const TRUCELINE_NAMESPACE = '5a3b4371-6fbf-4eab-8c4d-c79cc4b713de';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A namespace's 16 bytes, parsed once: every command derives several ids (SHA-1 of both). */
const namespaces = new Map<string, Buffer>();
const bytesOf = (namespace: string): Buffer => {
  let bytes = namespaces.get(namespace);
  if (!bytes) {
    if (!UUID.test(namespace)) throw new Error(`namespace must be a UUID: ${namespace}`);
    bytes = Buffer.from(namespace.replace(/-/g, ''), 'hex');
    if (namespaces.size < 16) namespaces.set(namespace, bytes);
  }
  return bytes;
};

/**
 * Name-based UUID version 5 (SHA-1) of RFC 9562 §5.5: the same name always gives the same id.
 * One-shot `hash` over namespace and name: a third of what a Hash object and its updates cost.
 */
export function uuidV5(name: string, namespace: string): string {
  const ns = bytesOf(namespace);
  const nameBytes = Buffer.from(name, 'utf8');
  const input = Buffer.allocUnsafe(16 + nameBytes.length);
  ns.copy(input, 0);
  nameBytes.copy(input, 16);
  const hex = hash('sha1', input, 'hex');
  // version 5 in the 13th digit; variant 10xx (RFC) in the top bits of the 17th
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
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
