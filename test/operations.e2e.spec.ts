import { signToken } from '@truceline/config';
import { StoredEvent } from '@truceline/domain';
import { createLogger, parseTraceparent, toKafkaMessage } from '@truceline/messaging';
import { Writable } from 'node:stream';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { breachReport, freshSector } from './support/truceline-api';

/**
 * What an operator of the API relies on: one JSON access-log line per request, a request id
 * that follows a command from the caller into the log of record, the caller's W3C trace
 * continued into the events and their Kafka messages, and a readiness body that names the
 * dependency that is down.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CALLER_TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('operating the API', () => {
  let system: InProcessSystem;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });

  beforeAll(async () => {
    system = await startInProcessSystem({
      clock: 'system',
      api: { accessLog: createLogger({ service: 'api', destination: sink }) },
    });
  }, 60_000);
  afterAll(() => system?.close());

  const operator = () => signToken(system.jwtSecret, { sub: 'ops-1', role: 'operator' });
  const report = (headers: Record<string, string> = {}) =>
    fetch(`${system.baseUrl}/v1/incidents`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${operator()}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(breachReport(freshSector('OPS'))),
    });
  const storedEvents = async (incidentId: string): Promise<StoredEvent[]> => {
    const response = await fetch(`${system.baseUrl}/v1/incidents/${incidentId}/events`, {
      headers: { authorization: `Bearer ${operator()}` },
    });
    const body = (await response.json()) as StoredEvent[] | { events: StoredEvent[] };
    return Array.isArray(body) ? body : body.events;
  };

  it("carries the caller's correlation id and trace into the events and their Kafka messages", async () => {
    const response = await report({
      'x-correlation-id': 'ministry-req-42',
      traceparent: CALLER_TRACE,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-correlation-id')).toBe('ministry-req-42');
    const { incidentId } = (await response.json()) as { incidentId: string };

    const [reported] = await storedEvents(incidentId);
    expect(reported.metadata.correlationId).toBe('ministry-req-42');
    const stored = parseTraceparent(reported.metadata.traceparent);
    expect(stored?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(stored?.spanId).not.toBe('00f067aa0ba902b7');

    const message = toKafkaMessage(reported, { source: '/truceline/events' });
    expect(String(message.headers.traceparent)).toBe(reported.metadata.traceparent);
  });

  it('gives a request without an id one, echoes it, and stores it as the correlation id', async () => {
    const response = await report({ traceparent: 'not-a-trace' });
    expect(response.status).toBe(201);
    const id = response.headers.get('x-correlation-id');
    expect(id).toMatch(UUID);
    const { incidentId } = (await response.json()) as { incidentId: string };

    const [reported] = await storedEvents(incidentId);
    expect(reported.metadata.correlationId).toBe(id);
    // An invalid traceparent starts a new trace instead of failing the request (W3C §3.2).
    expect(parseTraceparent(reported.metadata.traceparent)?.traceId).not.toBe('not-a-trace');
  });

  it('writes one JSON access-log line per request, with its id and without the token', async () => {
    const response = await report({ 'x-correlation-id': 'access-log-probe' });
    expect(response.status).toBe(201);

    const line = lines.find(
      (entry) => (entry.req as { id?: string } | undefined)?.id === 'access-log-probe',
    );
    expect(line).toMatchObject({
      service: 'api',
      level: 'info',
      req: { method: 'POST', url: '/v1/incidents' },
      res: { statusCode: 201 },
    });
    expect(typeof line?.responseTime).toBe('number');
    expect(JSON.stringify(line)).not.toContain(operator().slice(0, 20));
  });

  it('writes the line of a request whose URL cannot be decoded, answered before any hook', async () => {
    const response = await fetch(`${system.baseUrl}/v1/incidents/%E0%A4%A`, {
      headers: { 'x-correlation-id': 'undecodable-url-probe' },
    });
    expect(response.status).toBe(400);
    await response.text();

    const line = lines.find(
      (entry) => (entry.req as { id?: string } | undefined)?.id === 'undecodable-url-probe',
    );
    expect(line).toMatchObject({
      level: 'info',
      req: { method: 'GET', url: '/v1/incidents/%E0%A4%A' },
      res: { statusCode: 400 },
    });
  });

  it('answers readiness in the Terminus shape, naming the dependency that is down', async () => {
    const up = await fetch(`${system.baseUrl}/health/ready`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({
      status: 'ok',
      info: { database: { status: 'up' }, projections: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' }, projections: { status: 'up' } },
    });

    // The store closes under the HTTP edge, as when the database goes away.
    await system.runtime.close();
    const down = await fetch(`${system.baseUrl}/health/ready`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; error: Record<string, unknown> };
    expect(body.status).toBe('error');
    expect(body.error).toEqual({
      database: { status: 'down', message: expect.any(String) },
      projections: { status: 'down', message: expect.any(String) },
    });
  });
});
