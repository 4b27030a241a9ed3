import { randomUUID } from 'node:crypto';
import { incidentStreamId, NewEvent, NotFoundError, ValidationError } from '@truceline/domain';
import { deterministicId, SqlClient, SqlEventStore } from '@truceline/event-store';
import {
  FeedProjection,
  FeedQueries,
  IncidentViews,
  migratePartnerFeed,
} from '@truceline/projections';
import { openPolicyStore } from '@truceline/testing';
import { SystemClock } from '../clock';
import { IncidentCommandHandler } from '../incident-command.handler';
import { acknowledgeNotice, NoticeReceiptDeps } from './acknowledge-notice';

const INCIDENT = randomUUID();
const PL = { id: 'ministry-pl', role: 'ministry' as const, partner: 'PL' };
const event = (type: string, data: unknown): NewEvent => ({
  id: randomUUID(),
  type,
  occurredAt: '2026-03-02T04:00:00.000Z',
  data,
  metadata: {
    correlationId: 'c',
    causationId: null,
    actor: { id: 'op', role: 'operator' },
    policyVersion: 1,
  },
});

describe(acknowledgeNotice.name, () => {
  let sql: SqlClient;
  let store: SqlEventStore;
  let deps: NoticeReceiptDeps;
  let warning: NewEvent;
  let gbTask: NewEvent;

  beforeAll(async () => {
    const opened = await openPolicyStore({ inMemory: true }, migratePartnerFeed);
    ({ sql, store } = opened);
    const { policies } = opened;
    const clock = new SystemClock();
    warning = event('WarningIssued', { channel: 'c', recipient: 'RU', reference: 'DW-1' });
    gbTask = event('CoalitionTaskAssigned', {
      taskId: 't-gb',
      member: 'GB',
      capability: 'land',
      dueAt: '2026-03-03T00:00:00.000Z',
      tier: 2,
    });
    await store.append(
      incidentStreamId(INCIDENT),
      [
        event('BreachReported', {
          location: { sector: 's', frontlineKm: 1 },
          category: 'drone',
          severity: 'minor',
          source: { kind: 'monitor', id: 'm-1' },
          summary: 'x',
        }),
        event('BreachConfirmed', { basis: 'override', reason: 'r' }),
        warning,
        gbTask,
      ],
      { expectedRevision: 'no-stream' },
    );
    const projection = new FeedProjection(sql, policies);
    for (const e of await store.readAll()) await projection.apply(e);
    deps = {
      feeds: new FeedQueries(sql),
      incidents: new IncidentCommandHandler(store, policies, clock, new IncidentViews(sql)),
      clock,
    };
  });
  afterAll(() => sql?.close());

  it('appends NoticeAcknowledged once per partner and notice', async () => {
    const first = await acknowledgeNotice(deps, 'PL', warning.id, PL);
    const again = await acknowledgeNotice(deps, 'PL', warning.id, PL);

    expect(again).toEqual(first);
    expect(first).toMatchObject({
      incidentId: INCIDENT,
      eventId: deterministicId('PL', warning.id, 'ack'),
    });
    const acks = (await store.readStream(incidentStreamId(INCIDENT))).filter(
      (e) => e.type === 'NoticeAcknowledged',
    );
    expect(acks.map((e) => e.data)).toEqual([{ partner: 'PL', eventId: warning.id }]);
    expect(acks[0].metadata).toMatchObject({ actor: PL, causationId: warning.id });
  });

  it('acknowledges a tier change notice', async () => {
    const notice = deterministicId(INCIDENT, 'tier-changed', '1');

    await expect(acknowledgeNotice(deps, 'PL', notice, PL)).resolves.toMatchObject({
      eventId: deterministicId('PL', notice, 'ack'),
    });
  });

  it('refuses what is not a notice (400) and what is not in the partner’s feed (404)', async () => {
    const report = (await store.readStream(incidentStreamId(INCIDENT)))[0];

    await expect(acknowledgeNotice(deps, 'PL', report.id, PL)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(acknowledgeNotice(deps, 'PL', gbTask.id, PL)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(acknowledgeNotice(deps, 'PL', randomUUID(), PL)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});
