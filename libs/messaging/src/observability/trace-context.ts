import { hash } from 'node:crypto';

/** The parts of a W3C Trace Context `traceparent` header (version 00). */
export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Parses a `traceparent` (W3C Trace Context §3.2); undefined when absent or invalid, so a bad
 * header from a partner starts a fresh trace instead of failing the message.
 */
export function parseTraceparent(header: string | undefined | null): TraceContext | undefined {
  const match = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has no trailing fields; later versions may add some.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent({ traceId, spanId, flags }: TraceContext): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

/**
 * The traceparent of an effect caused by a traced message: the same trace and flags, a span id
 * derived from what the effect is (a reaction's deterministic event id), so a redelivered
 * message that recomputes the effect names the same span. The derivation is the relay's
 * (`traceparentOf`: span = SHA-256 of the event id), so an effect in the parent's trace carries
 * the span the relay would have given it. Undefined when the parent is not a valid traceparent.
 */
export function childTraceparent(parent: string | undefined, spanSeed: string): string | undefined {
  const context = parseTraceparent(parent);
  if (!context) return undefined;
  return formatTraceparent({ ...context, spanId: spanIdOf(spanSeed) });
}

function spanIdOf(seed: string): string {
  const hex = hash('sha256', seed, 'hex').slice(0, 16);
  return hex === ZERO_SPAN ? '0000000000000001' : hex;
}
