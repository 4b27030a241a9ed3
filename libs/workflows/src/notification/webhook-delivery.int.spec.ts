import type { PartnerWebhook } from '@truceline/config';
import { Actor, incidentStreamId, NotificationDelivered, StoredEvent } from '@truceline/domain';
import { OpenDatabaseOptions, SqlClient, SqlEventStore } from '@truceline/event-store';
import { IncidentViews } from '@truceline/projections';
import {
  assessed,
  confirmed,
  createTestDatabase,
  FactDraft,
  h,
  hostilitiesPersisted,
  openPolicyStore,
  reported,
  resolved,
  stream,
  taskAssigned,
  TestDatabase,
  warningIssued,
} from '@truceline/testing';
import { randomUUID } from 'node:crypto';
import { SystemClock } from '../clock';
import { IncidentCommandHandler } from '../incident-command.handler';
import { NOTIFICATION_ACTOR, NotificationService } from '../notification.service';
import { WebhookDeliveryOptions, WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhookOutbox } from './webhook-outbox';
import {
  eventually,
  startWebhookReceiver,
  testWebhookSecret,
  WebhookReceiver,
} from './webhook-receiver.testing';

const OPERATOR: Actor = { id: 'operator-1', role: 'operator' };
const SECRETS: Record<string, string> = Object.fromEntries(
  ['DE', 'FR', 'GB', 'IS', 'NO', 'PL', 'TR', 'UA', 'US', 'EU'].map((p) => [
    p,
    testWebhookSecret(`${p}-webhook-delivery`),
  ]),
);
/** Fast retries, a short timeout: the guarantees under test do not depend on the numbers. */
const FAST: WebhookDeliveryOptions = {
  intervalMs: 50,
  // Generous: on a loaded CI machine a local answer can take over a second, and a timed-out
  // request is (rightly) sent again, which the exactly-once-received assertions would see.
  timeoutMs: 5000,
  retry: { baseMs: 100, maxMs: 1000 },
};

/** One store, its repository and the outbox, on one database connection. */
interface Node {
  sql: SqlClient;
  store: SqlEventStore;
  incidents: IncidentCommandHandler;
  outbox: WebhookOutbox;
  close(): Promise<void>;
}

async function openNode(database: OpenDatabaseOptions): Promise<Node> {
  const { sql, store, policies, close } = await openPolicyStore(database);
  const outbox = new WebhookOutbox(sql);
  await outbox.migrate();
  return {
    sql,
    store,
    close,
    incidents: new IncidentCommandHandler(
      store,
      policies,
      new SystemClock(),
      new IncidentViews(sql),
    ),
    outbox,
  };
}

// The project's testTimeout is not applied to a single spec run by path: say it here.
jest.setTimeout(60_000);

const engines: [string, () => Promise<{ url?: string; drop(): Promise<void> }>][] = [
  ['PGlite', async () => ({ drop: async () => undefined })],
  [
    'PostgreSQL',
    async () => {
      const database: TestDatabase = await createTestDatabase();
      return { url: database.url, drop: () => database.drop() };
    },
  ],
];

describe.each(engines)('webhook delivery on %s', (_engine, createDatabase) => {
  let database: { url?: string; drop(): Promise<void> };
  let node: Node;
  let receiver: WebhookReceiver;
  let workers: WebhookDeliveryWorker[];
  let errors: unknown[];

  const where = (): OpenDatabaseOptions =>
    database.url ? { databaseUrl: database.url } : { inMemory: true };

  beforeAll(async () => {
    database = await createDatabase();
    node = await openNode(where());
  });
  afterAll(async () => {
    await node?.close();
    await database?.drop();
  });
  beforeEach(() => {
    workers = [];
    errors = [];
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await receiver?.close();
    // Each test plans its own deliveries: none may be left for the next test's worker.
    await node.sql.query('DELETE FROM webhook_outbox');
  });

  const webhooksFor = (...partners: string[]): Map<string, PartnerWebhook> =>
    new Map(
      partners.map((partner) => [
        partner,
        { partner, webhookUrl: receiver.urlFor(partner), secrets: [SECRETS[partner]] },
      ]),
    );

  /** Stores a new incident made of `drafts` and lets the notification service see each event. */
  async function incident(
    drafts: FactDraft[],
    webhooks: Map<string, PartnerWebhook>,
    on: Node = node,
  ): Promise<{ incidentId: string; events: StoredEvent[] }> {
    const incidentId = randomUUID();
    const appended = await on.store.append(
      incidentStreamId(incidentId),
      stream(...drafts).map((f) => ({
        id: randomUUID(),
        type: f.type,
        occurredAt: f.occurredAt,
        data: f.data,
        metadata: on.incidents.metadata(OPERATOR, `corr-${incidentId}`, null),
      })),
      { expectedRevision: 'no-stream' },
    );
    const sut = new NotificationService(on.incidents, undefined, { outbox: on.outbox, webhooks });
    for (const event of appended.events) await sut.handle(event);
    return { incidentId, events: appended.events };
  }

  function startWorker(
    webhooks: Map<string, PartnerWebhook>,
    options: WebhookDeliveryOptions = {},
    on: Node = node,
  ): WebhookDeliveryWorker {
    const worker = new WebhookDeliveryWorker(
      {
        outbox: on.outbox,
        webhooks,
        incidents: on.incidents,
        clock: new SystemClock(),
      },
      { ...FAST, onError: (e) => errors.push(e), ...options },
    );
    workers.push(worker);
    worker.start();
    return worker;
  }

  const records = async (incidentId: string) =>
    (await node.store.readStream(incidentStreamId(incidentId))).filter(
      (e): e is StoredEvent<'NotificationDelivered', NotificationDelivered> =>
        e.type === 'NotificationDelivered',
    );

  const deliveredCount = async (incidentId: string, count: number) =>
    eventually(async () => expect(await records(incidentId)).toHaveLength(count));

  it('delivers every notice an incident calls for, signed, and records each delivery once', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    const webhooks = webhooksFor('FR', 'GB', 'PL');
    const { incidentId, events } = await incident(
      [
        reported(),
        confirmed(),
        hostilitiesPersisted(),
        taskAssigned({
          taskId: 'task-pl',
          member: 'PL',
          capability: 'land',
          tier: 2,
          dueAt: h(14),
        }),
        warningIssued(),
      ],
      webhooks,
    );
    // Redelivered events (a restart, a second instance) plan nothing new.
    const sut = new NotificationService(node.incidents, undefined, {
      outbox: node.outbox,
      webhooks,
    });
    for (const event of events) await sut.handle(event);
    const planned = await node.outbox.list({ incidentId });
    expect(planned).toHaveLength(3 * 3 + 1 + 3); // tiers 0–2 to all, the task to PL, the warning to all

    const worker = startWorker(webhooks);
    await deliveredCount(incidentId, planned.length);
    await worker.stop();

    expect(receiver.rejected).toEqual([]);
    expect(receiver.received.map((r) => r.deliveryId).sort()).toEqual(
      planned.map((p) => p.deliveryId).sort(),
    );
    const tasks = receiver.received.filter((r) => r.notice.subject === 'task');
    expect(tasks.map((r) => [r.partner, r.notice.member, r.notice.taskId])).toEqual([
      ['PL', 'PL', 'task-pl'],
    ]);
    const recorded = await records(incidentId);
    for (const delivery of await node.outbox.list({ incidentId })) {
      expect(delivery).toMatchObject({
        attempts: 1,
        lastError: null,
        deliveredAt: expect.any(Date),
      });
      const record = recorded.filter((e) => e.data.reference === delivery.deliveryId);
      expect(record).toHaveLength(1);
      expect(record[0].data).toEqual({
        partner: delivery.partner,
        subject: delivery.subject,
        ...(delivery.tier === undefined ? {} : { tier: delivery.tier }),
        channel: 'webhook',
        reference: delivery.deliveryId,
      });
      expect(record[0].metadata).toMatchObject({
        actor: NOTIFICATION_ACTOR,
        causationId: delivery.causationId,
        correlationId: `corr-${incidentId}`,
      });
    }
    expect(errors).toEqual([]);
  });

  it('retries a partner that answers 500 twice with growing delays, then records it once', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    receiver.respondWith((r) => (r.attempt <= 2 ? 500 : 204));
    const webhooks = webhooksFor('GB');
    const { incidentId } = await incident([reported()], webhooks);

    const worker = startWorker(webhooks);
    await deliveredCount(incidentId, 1);
    await worker.stop();

    const [first, second, third] = receiver.received;
    expect(receiver.received.map((r) => [r.deliveryId, r.attempt])).toEqual([
      [first.deliveryId, 1],
      [first.deliveryId, 2],
      [first.deliveryId, 3],
    ]);
    // 100 ms, then 200 ms, each ±20 %.
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(80);
    expect(third.receivedAt - second.receivedAt).toBeGreaterThanOrEqual(160);
    const [row] = await node.outbox.list({ incidentId });
    expect(row).toMatchObject({ attempts: 3, lastError: null, deliveredAt: expect.any(Date) });
    expect(await records(incidentId)).toHaveLength(1);
    expect(receiver.rejected).toEqual([]);
  });

  it('keeps delivering to other partners while one partner does not answer', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    let frAnswers = false;
    receiver.respondWith((r) =>
      r.partner === 'FR' && !frAnswers ? { status: 204, delayMs: 30_000 } : 204,
    );
    const webhooks = webhooksFor('FR', 'GB', 'PL');
    const { incidentId } = await incident([reported(), confirmed()], webhooks);

    startWorker(webhooks, { timeoutMs: 4000 });
    await eventually(async () => {
      const partners = (await records(incidentId)).map((e) => e.data.partner).sort();
      expect(partners).toEqual(['GB', 'GB', 'PL', 'PL']);
    });
    // GB and PL did not wait for FR's requests to time out: each was delivered before the first
    // of those could have (its timer started before the receiver saw it), however long this
    // check comes after, on a loaded machine.
    const frTimesOutAt =
      Math.min(...receiver.received.filter((r) => r.partner === 'FR').map((r) => r.receivedAt)) +
      4000;
    const others = (await node.outbox.list({ incidentId })).filter((d) => d.partner !== 'FR');
    expect(others).toHaveLength(4);
    for (const delivery of others) {
      expect(delivery.deliveredAt?.getTime()).toBeLessThan(frTimesOutAt);
    }
    await eventually(async () => {
      const rows = (await node.outbox.list({ incidentId })).filter((d) => d.partner === 'FR');
      expect(rows.map((d) => d.lastError)).toEqual([
        'no answer within 4000 ms',
        'no answer within 4000 ms',
      ]);
    });

    frAnswers = true;
    await deliveredCount(incidentId, 6);
    expect(errors).toEqual([]);
  });

  it('keeps delivering through a secret rotation, verified with the old and then the new secret', async () => {
    const OLD = testWebhookSecret('GB-before-rotation');
    const NEW = testWebhookSecret('GB-after-rotation');
    receiver = await startWebhookReceiver({ GB: OLD });
    const gb = (secrets: string[]) =>
      new Map([['GB', { partner: 'GB', webhookUrl: receiver.urlFor('GB'), secrets }]]);
    /** One notice (tier 0 to GB) sent by a worker holding `secrets`, answered by the receiver. */
    const deliverWith = async (secrets: string[]) => {
      const webhooks = gb(secrets);
      const { incidentId } = await incident([reported()], webhooks);
      const worker = startWorker(webhooks);
      await eventually(() =>
        expect(receiver.received.filter((r) => r.notice.incidentId === incidentId)).toHaveLength(1),
      );
      await deliveredCount(incidentId, 1);
      await worker.stop();
      return receiver.received.find((r) => r.notice.incidentId === incidentId)!;
    };

    const before = await deliverWith([OLD]);
    expect(before.signature.split(' ')).toHaveLength(1);
    // Rotation: the partners file lists both; the ministry still holds the old secret…
    const during = await deliverWith([OLD, NEW]);
    expect(during.signature.split(' ')).toHaveLength(2);
    // …then switches to the new one, with no notice refused in between.
    receiver.holdSecret('GB', NEW);
    await deliverWith([OLD, NEW]);
    await deliverWith([NEW]);
    expect(receiver.rejected).toEqual([]);

    // Once the old secret is dropped, a receiver still holding it refuses, and nothing is recorded.
    receiver.holdSecret('GB', OLD);
    const webhooks = gb([NEW]);
    const { incidentId } = await incident([reported()], webhooks);
    startWorker(webhooks);
    await eventually(() => expect(receiver.rejected.length).toBeGreaterThanOrEqual(1));
    expect(receiver.rejected.every((r) => r.reason === 'bad-signature')).toBe(true);
    expect(await records(incidentId)).toEqual([]);
  });

  it('is refused by a receiver that holds another secret, and records nothing', async () => {
    receiver = await startWebhookReceiver({ ...SECRETS, GB: testWebhookSecret('another') });
    const webhooks = webhooksFor('GB');
    const { incidentId } = await incident([reported()], webhooks);

    startWorker(webhooks);
    await eventually(() => expect(receiver.rejected.length).toBeGreaterThanOrEqual(2));

    expect(new Set(receiver.rejected.map((r) => r.reason))).toEqual(new Set(['bad-signature']));
    expect(receiver.received).toEqual([]);
    // The receiver answers before the worker records the failed attempt: wait for the record.
    await eventually(async () => {
      const [row] = await node.outbox.list({ incidentId });
      expect(row).toMatchObject({ lastError: 'HTTP 401', deliveredAt: null });
      expect(row.attempts).toBeGreaterThanOrEqual(2);
    });
    expect(await records(incidentId)).toEqual([]);
  });

  it('records a delivery once when a crash after sending makes it go out again', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    const webhooks = webhooksFor('GB');
    const { incidentId } = await incident([reported()], webhooks);
    startWorker(webhooks);
    await deliveredCount(incidentId, 1);

    // As if the worker died after recording NotificationDelivered but before marking the row.
    const [row] = await node.outbox.list({ incidentId });
    await node.sql.query(
      'UPDATE webhook_outbox SET delivered_at = NULL, next_attempt_at = now() WHERE delivery_id = $1',
      [row.deliveryId],
    );
    await eventually(async () => {
      expect(receiver.accepted().map((r) => r.attempt)).toEqual([1, 2]);
      expect((await node.outbox.list({ incidentId }))[0].deliveredAt).not.toBeNull();
    });

    expect(await records(incidentId)).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('records deliveries on an incident resolved before they went out', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    const webhooks = webhooksFor('GB');
    const { incidentId } = await incident([reported(), confirmed(), resolved()], webhooks);

    startWorker(webhooks);

    await deliveredCount(incidentId, 2);
    expect((await records(incidentId)).map((e) => e.data.tier).sort()).toEqual([0, 1]);
  });

  it('never sends one delivery from two workers at once', async () => {
    receiver = await startWebhookReceiver(SECRETS);
    // A slow answer widens the window in which a second worker could pick the same row.
    receiver.respondWith(() => ({ status: 204, delayMs: 20 }));
    const webhooks = webhooksFor(...Object.keys(SECRETS));
    // The second worker is another instance: on PostgreSQL it has its own connection pool.
    const other = database.url ? await openNode(where()) : node;
    try {
      const { incidentId } = await incident(
        [reported(), confirmed(), hostilitiesPersisted(), assessed('large-scale')],
        webhooks,
      );
      startWorker(webhooks);
      startWorker(webhooks, {}, other);

      await deliveredCount(incidentId, 4 * 10);
      await Promise.all(workers.map((w) => w.stop()));

      expect(receiver.received).toHaveLength(40);
      expect(new Set(receiver.received.map((r) => r.deliveryId)).size).toBe(40);
      expect(errors).toEqual([]);
    } finally {
      if (other !== node) await other.close();
    }
  });
});
