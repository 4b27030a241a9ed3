import { Iso, PartnerCode, SCHEMA_VERSION } from './events';

export type Role = 'operator' | 'verifier' | 'ministry' | 'auditor' | 'service';
export const ROLES: readonly Role[] = ['operator', 'verifier', 'ministry', 'auditor', 'service'];

export interface Actor {
  id: string;
  role: Role;
  partner?: PartnerCode;
}

export interface EventMetadata {
  correlationId: string;
  causationId: string | null;
  actor: Actor;
  policyVersion: number;
  /** Set on everything stored while the clock runs in exercise mode (SPEC §2). */
  exercise?: boolean;
  /** W3C trace context, carried across processes. */
  traceparent?: string;
}

/** An event as handed to the store: the store assigns revision, position and recordedAt. */
export interface NewEvent<T extends string = string, D = unknown> {
  id: string;
  type: T;
  occurredAt: Iso;
  data: D;
  metadata: EventMetadata;
}

/** The stored envelope of SPEC §4. */
export interface StoredEvent<T extends string = string, D = unknown> {
  id: string;
  type: T;
  schemaVersion: typeof SCHEMA_VERSION | number;
  streamId: string;
  revision: number;
  position: number;
  occurredAt: Iso;
  recordedAt: Iso;
  data: D;
  metadata: EventMetadata;
}

export const INCIDENT_STREAM_PREFIX = 'incident-';
export const incidentStreamId = (incidentId: string): string =>
  `${INCIDENT_STREAM_PREFIX}${incidentId}`;
export const incidentIdOf = (streamId: string): string | null =>
  streamId.startsWith(INCIDENT_STREAM_PREFIX)
    ? streamId.slice(INCIDENT_STREAM_PREFIX.length)
    : null;
