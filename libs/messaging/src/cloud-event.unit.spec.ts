import { createHash, randomUUID } from 'node:crypto';
import { StoredEvent } from '@truceline/domain';
import { CloudEvent, Kafka, KafkaMessage } from 'cloudevents';
import {
  EVENTS_SOURCE,
  EVENTS_TOPIC,
  feedTopic,
  fromKafkaMessage,
  IncomingKafkaMessage,
  MalformedMessageError,
  OutgoingKafkaMessage,
  toKafkaMessage,
  traceparentOf,
} from './cloud-event';

const INCIDENT_ID = '7d0c2f4e-1b9a-4c1e-9f0e-3a5b6c7d8e9f';

function aStoredEvent(overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: randomUUID(),
    type: 'BreachReported',
    schemaVersion: 1,
    streamId: `incident-${INCIDENT_ID}`,
    revision: 0,
    position: 42,
    occurredAt: '2026-03-01T10:15:00.000Z',
    recordedAt: '2026-03-01T10:20:30.123Z',
    data: {
      location: { sector: 'Zaporizhzhia', frontlineKm: 612 },
      category: 'artillery',
      severity: 'major',
      source: { kind: 'sensor', id: 'us-sensor-17' },
      summary: 'Shelling near the line — «тест» ✓',
    },
    metadata: {
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: { id: 'monitor-3', role: 'operator', partner: 'UA' },
      policyVersion: 1,
    },
    ...overrides,
  };
}

/** What a kafkajs consumer hands over: key, value and every header value as Buffers. */
function asDelivered(message: OutgoingKafkaMessage): IncomingKafkaMessage {
  return {
    key: Buffer.from(message.key),
    value: Buffer.from(message.value),
    headers: Object.fromEntries(
      Object.entries(message.headers).map(([name, value]) => [name, Buffer.from(value)]),
    ),
  };
}

const sut = { toKafkaMessage, fromKafkaMessage };
const source = EVENTS_SOURCE;

describe(toKafkaMessage.name, () => {
  it('keys by incident id and carries the envelope in CloudEvents binary-mode headers', () => {
    const event = aStoredEvent();

    const message = sut.toKafkaMessage(event, { source });

    expect(message.key).toBe(INCIDENT_ID);
    expect(JSON.parse(message.value)).toEqual(event.data);
    expect(message.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_type: 'truceline.BreachReported.v1',
      ce_source: '/truceline/events',
      ce_subject: INCIDENT_ID,
      ce_time: event.occurredAt,
      'content-type': 'application/json',
      ce_position: '42',
      ce_revision: '0',
      ce_streamid: event.streamId,
      ce_recordedat: event.recordedAt,
      ce_schemaversion: '1',
      ce_correlationid: event.metadata.correlationId,
      ce_causationid: event.metadata.causationId,
      ce_policyversion: '1',
      ce_actor: JSON.stringify(event.metadata.actor),
      traceparent: traceparentOf(event),
    });
    expect(message).not.toHaveProperty('timestamp');
  });

  it('keys an event outside any incident by its stream', () => {
    const message = sut.toKafkaMessage(aStoredEvent({ streamId: 'policy-escalation' }), { source });

    expect(message.key).toBe('policy-escalation');
    expect(message.headers.ce_subject).toBe('policy-escalation');
  });

  it('omits a null causation id and marks exercise data only when it is exercise data', () => {
    const base = aStoredEvent();
    const root = { ...base, metadata: { ...base.metadata, causationId: null } };
    const drill = { ...base, metadata: { ...base.metadata, exercise: true } };

    expect(sut.toKafkaMessage(root, { source }).headers).not.toHaveProperty('ce_causationid');
    expect(sut.toKafkaMessage(base, { source }).headers).not.toHaveProperty('ce_exercise');
    expect(sut.toKafkaMessage(drill, { source }).headers.ce_exercise).toBe('true');
  });

  it('uses only CloudEvents-legal extension names (lower-case alphanumeric, at most 20)', () => {
    const event = aStoredEvent();
    const message = sut.toKafkaMessage(
      { ...event, metadata: { ...event.metadata, exercise: true } },
      { source },
    );

    const names = Object.keys(message.headers)
      .filter((name) => name.startsWith('ce_'))
      .map((name) => name.slice(3));
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]{1,20}$/);
  });

  it('carries the stored traceparent, else one derived from correlation id and event id', () => {
    const event = aStoredEvent();
    const stored = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = { ...event, metadata: { ...event.metadata, traceparent: stored } };
    const sha = (value: string) => createHash('sha256').update(value).digest('hex');

    expect(sut.toKafkaMessage(traced, { source }).headers.traceparent).toBe(stored);
    expect(sut.toKafkaMessage(event, { source }).headers.traceparent).toBe(
      `00-${sha(event.metadata.correlationId).slice(0, 32)}-${sha(event.id).slice(0, 16)}-01`,
    );
    expect(sut.toKafkaMessage(event, { source }).headers.traceparent).toBe(
      sut.toKafkaMessage(event, { source }).headers.traceparent,
    );
  });
});

describe(fromKafkaMessage.name, () => {
  const variants: [string, (event: StoredEvent) => StoredEvent][] = [
    ['a plain event', (event) => event],
    [
      'a root event (no causation)',
      (e) => ({ ...e, metadata: { ...e.metadata, causationId: null } }),
    ],
    ['exercise data', (e) => ({ ...e, metadata: { ...e.metadata, exercise: true } })],
    [
      'an actor without partner',
      (e) => ({ ...e, metadata: { ...e.metadata, actor: { id: 'svc', role: 'service' } } }),
    ],
    [
      'a stored traceparent',
      (e) => ({
        ...e,
        metadata: {
          ...e.metadata,
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
      }),
    ],
    [
      'a policy event',
      (e) => ({ ...e, streamId: 'policy-escalation', type: 'EscalationPolicyAdopted' }),
    ],
    ['a later revision', (e) => ({ ...e, revision: 7, position: 9_007_199_254_740 })],
  ];

  it.each(variants)('rebuilds the stored envelope exactly from Buffers: %s', (_name, vary) => {
    const event = vary(aStoredEvent());

    const rebuilt = sut.fromKafkaMessage(asDelivered(sut.toKafkaMessage(event, { source })));

    expect(rebuilt).toEqual(event);
  });

  it('accepts string headers and a key as a string too', () => {
    const event = aStoredEvent();

    expect(sut.fromKafkaMessage(sut.toKafkaMessage(event, { source }))).toEqual(event);
  });

  const required = [
    'ce_specversion',
    'ce_id',
    'ce_type',
    'ce_subject',
    'ce_time',
    'content-type',
    'ce_position',
    'ce_revision',
    'ce_streamid',
    'ce_recordedat',
    'ce_schemaversion',
    'ce_correlationid',
    'ce_policyversion',
    'ce_actor',
  ];
  it.each(required)('refuses a message without %s', (header) => {
    const message = asDelivered(sut.toKafkaMessage(aStoredEvent(), { source }));
    delete message.headers![header];

    expect(() => sut.fromKafkaMessage(message)).toThrow(MalformedMessageError);
    expect(() => sut.fromKafkaMessage(message)).toThrow(`header ${header}`);
  });

  const corruptions: [string, string, string][] = [
    ['ce_specversion', '0.3', 'header ce_specversion'],
    ['content-type', 'application/cloudevents+json', 'header content-type'],
    ['ce_id', 'not-a-uuid', 'header ce_id'],
    ['ce_type', 'BreachReported', 'header ce_type'],
    ['ce_schemaversion', '2', 'header ce_schemaversion'],
    ['ce_position', '-1', 'header ce_position'],
    ['ce_position', '0', 'header ce_position'],
    ['ce_position', '4.2', 'header ce_position'],
    ['ce_revision', 'x', 'header ce_revision'],
    ['ce_time', 'yesterday', 'header ce_time'],
    ['ce_recordedat', '2026-13-45T99:00:00Z', 'header ce_recordedat'],
    ['ce_subject', 'another-incident', 'header ce_subject'],
    ['ce_actor', '{"id":"x"', 'header ce_actor'],
    ['ce_actor', '{"id":"x","role":"president"}', 'header ce_actor'],
    ['ce_actor', '"operator"', 'header ce_actor'],
    ['ce_exercise', 'false', 'header ce_exercise'],
    ['traceparent', '00-xyz-01', 'header traceparent'],
  ];
  it.each(corruptions)('refuses %s = %j', (header, value, field) => {
    const message = asDelivered(sut.toKafkaMessage(aStoredEvent(), { source }));
    message.headers![header] = Buffer.from(value);

    const attempt = () => sut.fromKafkaMessage(message);

    expect(attempt).toThrow(MalformedMessageError);
    expect(attempt).toThrow(field);
  });

  it('refuses a header repeated with two values', () => {
    const message = asDelivered(sut.toKafkaMessage(aStoredEvent(), { source }));
    message.headers!.ce_id = [Buffer.from(randomUUID()), Buffer.from(randomUUID())];

    expect(() => sut.fromKafkaMessage(message)).toThrow('header ce_id: repeated');
  });

  it.each([
    ['another key', Buffer.from('someone-else')],
    ['no key', null],
  ])('refuses %s than the stream’s partition key', (_name, key) => {
    const message = { ...asDelivered(sut.toKafkaMessage(aStoredEvent(), { source })), key };

    expect(() => sut.fromKafkaMessage(message)).toThrow('malformed message: key');
  });

  it.each([
    ['no value', null],
    ['an empty value', Buffer.alloc(0)],
    ['a value that is not JSON', Buffer.from('{"location":')],
  ])('refuses %s', (_name, value) => {
    const message = { ...asDelivered(sut.toKafkaMessage(aStoredEvent(), { source })), value };

    expect(() => sut.fromKafkaMessage(message)).toThrow('malformed message: value');
  });

  it('names the error with a string code that survives crossing a process', () => {
    const message = asDelivered(sut.toKafkaMessage(aStoredEvent(), { source }));
    delete message.headers!.ce_id;

    let caught: unknown;
    try {
      sut.fromKafkaMessage(message);
    } catch (error) {
      caught = error;
    }

    expect(caught).toMatchObject({ code: 'malformed-message', field: 'header ce_id' });
  });
});

describe('the official CloudEvents SDK', () => {
  it('reads a published message as a valid CloudEvent with our attributes and extensions', () => {
    const event = aStoredEvent({ revision: 3, position: 57 });
    const delivered = asDelivered(sut.toKafkaMessage(event, { source }));
    // The SDK's Kafka binding wants header values as strings, as any consumer would decode them.
    const headers = Object.fromEntries(
      Object.entries(delivered.headers!).map(([name, value]) => [name, String(value)]),
    );

    const message: KafkaMessage<unknown> = {
      key: delivered.key as Buffer,
      value: delivered.value,
      headers,
      body: delivered.value,
    };

    const cloudEvent = Kafka.toEvent(message) as CloudEvent<unknown>;

    expect(Kafka.isEvent({ headers, body: delivered.value })).toBe(true);
    expect(cloudEvent.validate()).toBe(true);
    expect(cloudEvent).toMatchObject({
      specversion: '1.0',
      id: event.id,
      type: 'truceline.BreachReported.v1',
      source: '/truceline/events',
      subject: INCIDENT_ID,
      time: event.occurredAt,
      datacontenttype: 'application/json',
      data: event.data,
      position: '57',
      revision: '3',
      streamid: event.streamId,
      recordedat: event.recordedAt,
      schemaversion: '1',
      correlationid: event.metadata.correlationId,
      causationid: event.metadata.causationId,
      policyversion: '1',
      actor: JSON.stringify(event.metadata.actor),
    });
    expect(String(cloudEvent.partitionkey)).toBe(INCIDENT_ID);
  });
});

describe(feedTopic.name, () => {
  it('names one lower-case topic per partner, beside the events topic', () => {
    expect(EVENTS_TOPIC).toBe('truceline.events.v1');
    expect(feedTopic('UA')).toBe('truceline.feed.ua.v1');
    expect(feedTopic('eu')).toBe('truceline.feed.eu.v1');
  });

  it.each(['', 'USA', 'u.s', '../x'])('refuses %j as a partner code', (partner) => {
    expect(() => feedTopic(partner)).toThrow('not a partner code');
  });
});
