import { decodeIncidentFact, decodeIncidentFacts, UndecodableFactError } from './decode';
import { StoredEvent } from './envelope';
import { INCIDENT_EVENT_SCHEMA_VERSIONS, INCIDENT_EVENT_TYPES } from './events';

const stored = (overrides: Partial<StoredEvent> = {}): StoredEvent => ({
  id: '0b0e5c1e-0000-4000-8000-000000000001',
  type: 'IncidentResolved',
  schemaVersion: 1,
  streamId: 'incident-1',
  revision: 3,
  position: 9,
  occurredAt: '2026-03-01T10:00:00.000Z',
  recordedAt: '2026-03-01T10:00:01.000Z',
  data: { resolution: 'ceased' },
  metadata: {
    correlationId: 'c',
    causationId: null,
    actor: { id: 'op', role: 'operator' },
    policyVersion: 1,
  },
  ...overrides,
});

describe(decodeIncidentFact.name, () => {
  it('reads a current fact as it was stored', () => {
    const sut = decodeIncidentFact(stored());

    expect(sut).toEqual(stored());
  });

  it('leaves out what is not an incident fact', () => {
    expect(decodeIncidentFact(stored({ type: 'PolicyAdopted' }))).toBeNull();
    expect(decodeIncidentFacts([stored({ type: 'Other' }), stored()])).toEqual([stored()]);
  });

  it('refuses a schema newer than the code, rather than fold a shape it does not know', () => {
    expect(() => decodeIncidentFact(stored({ schemaVersion: 2 }))).toThrow(UndecodableFactError);
  });

  it('refuses an old schema that has no upcaster', () => {
    expect(() => decodeIncidentFact(stored({ schemaVersion: 0 }))).toThrow(/no upcaster/);
  });
});

describe('INCIDENT_EVENT_TYPES', () => {
  it('lists every type of the schema record, once', () => {
    expect(INCIDENT_EVENT_TYPES).toEqual(Object.keys(INCIDENT_EVENT_SCHEMA_VERSIONS));
    expect(new Set(INCIDENT_EVENT_TYPES).size).toBe(19);
  });
});
