import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { IncidentDriver, missedKeys, obligation, tasksOf } from './support/incident-driver';
import {
  eventually,
  freshSector,
  hoursAfter,
  STORES,
  StoreLocation,
  StoreUnderTest,
  TrucelineApi,
} from './support/truceline-api';

/**
 * The services' behaviour seen through the API in exercise mode (SPEC §2, §3, §5): verification
 * by quorum, coalition tasking, the authorized warning, repeated violations and the deadline
 * scheduler — across restarts and with two instances. Every suite runs on each store; tests of a
 * suite share its instance, work on their own sectors and only ever move the clock forward.
 */
const CLOCK_START = '2026-03-01T00:00:00.000Z';
const SECOND_MS = 1000;
// The e2e project's testTimeout does not reach tests (jest reads it from the global config only);
// a poll gives up after 10 s and must fail with its own message, not the 5 s default.
jest.setTimeout(30_000);

const COALITION_TASKS = [
  'GB land',
  'GB air',
  'FR land',
  'FR air',
  'DE air-defence',
  'PL land',
  'NO maritime',
  'IS logistics',
  'TR maritime',
];
const WESTERN_FORCE_TASKS = ['US intelligence', 'US logistics', 'US air', 'GB air', 'FR air'];

const startOn = (location: StoreLocation) =>
  startInProcessSystem({
    databaseUrl: location.databaseUrl,
    dataDir: location.dataDir,
    clockStart: CLOCK_START,
  });

describe.each(STORES.map((store): [string, StoreUnderTest] => [store.name, store]))(
  'the services on %s (exercise mode)',
  (storeName, store) => {
    let location: StoreLocation;
    let system: InProcessSystem;
    /** What afterAll must close: unset while a restart is under way. */
    let running: InProcessSystem | undefined;
    let api: TrucelineApi;
    let incidents: IncidentDriver;

    const start = async () => {
      system = await startOn(location);
      running = system;
      api = new TrucelineApi(system.baseUrl, system.jwtSecret);
      incidents = new IncidentDriver(api, system);
    };
    /** Closes the instance and starts a new one on the same database or data dir. */
    const restart = async () => {
      running = undefined;
      await system.close();
      await start();
    };

    beforeAll(async () => {
      location = await store.create();
      await start();
    }, 60_000);
    afterAll(async () => {
      await running?.close();
      await location?.drop();
    });

    describe('verification', () => {
      it('confirms by a quorum of two distinct verifiers, at the occurredAt of the deciding finding', async () => {
        const now = await api.clockNow();
        const { incidentId: id } = await incidents.report(freshSector(), hoursAfter(now, -3));
        const ua = await incidents.finding(id, 'UA', 'confirmed', hoursAfter(now, -2));
        await incidents.finding(id, 'GB', 'inconclusive', hoursAfter(now, -1.5));
        expect((await incidents.view(id)).status).toBe('verifying');

        const us = await incidents.finding(id, 'US', 'confirmed', hoursAfter(now, -1));

        const [confirmed] = await api.eventsOfType(id, 'BreachConfirmed');
        expect(confirmed).toMatchObject({
          occurredAt: hoursAfter(now, -1),
          data: { basis: 'quorum', findings: [ua.eventId, us.eventId] },
          metadata: { actor: { id: 'verification-service' }, causationId: us.eventId },
        });
        const view = await incidents.view(id);
        expect(view).toMatchObject({ status: 'open', tier: 1 });
        expect(obligation(view, 'verification')).toMatchObject({
          status: 'met',
          satisfiedAt: hoursAfter(now, -1),
        });
        expect(await incidents.count(id, 'BreachConfirmed')).toBe(1);
      });

      it('rejects by a quorum of two not-confirmed findings; one each way stays verifying', async () => {
        const { incidentId: rejected } = await incidents.report(freshSector());
        await incidents.finding(rejected, 'GB', 'not-confirmed');
        await incidents.finding(rejected, 'FR', 'not-confirmed');
        const { incidentId: undecided } = await incidents.report(freshSector());
        await incidents.finding(undecided, 'UA', 'confirmed');
        await incidents.finding(undecided, 'US', 'not-confirmed');

        expect(await api.eventsOfType(rejected, 'BreachRejected')).toEqual([
          expect.objectContaining({ data: expect.objectContaining({ basis: 'quorum' }) }),
        ]);
        const view = await incidents.view(rejected);
        expect(view).toMatchObject({ status: 'rejected', tier: 0 });
        expect(view.tierHistory.map((h) => h.tier)).toEqual([0]);
        expect(await incidents.view(undecided)).toMatchObject({ status: 'verifying', tier: 0 });
      });

      it("takes an operator's override verdict before the quorum, and refuses one afterwards", async () => {
        const { incidentId: confirmedId } = await incidents.report(freshSector());
        const { incidentId: rejectedId } = await incidents.report(freshSector());
        await incidents.finding(confirmedId, 'UA', 'not-confirmed');

        const confirmation = await incidents.verdict(confirmedId, 'confirmed');
        await incidents.verdict(rejectedId, 'rejected');

        expect(await api.eventsOfType(confirmedId, 'BreachConfirmed')).toEqual([
          expect.objectContaining({
            id: confirmation.eventId,
            data: { basis: 'override', reason: 'operator override' },
            metadata: expect.objectContaining({ actor: { id: 'e2e-operator', role: 'operator' } }),
          }),
        ]);
        expect(await incidents.view(confirmedId)).toMatchObject({ status: 'open', tier: 1 });
        expect(await incidents.view(rejectedId)).toMatchObject({ status: 'rejected', tier: 0 });
        const again = await api.post(`/v1/incidents/${confirmedId}/verdict`, {
          verdict: 'rejected',
          reason: 'second thoughts',
        });
        expect({ status: again.status, reason: again.body.reason }).toEqual({
          status: 409,
          reason: 'verification-closed',
        });
      });
    });

    describe('coalition tasking', () => {
      it('tasks the 9 coalition capabilities when hostilities persist (tier 2), due 12 h later', async () => {
        const { id } = await incidents.confirmed();
        const at = hoursAfter(await api.clockNow(), -0.5);

        const hostilities = await incidents.post(id, 'hostilities', {
          observation: 'shelling continues',
          occurredAt: at,
        });

        const view = await incidents.view(id);
        expect(view.tier).toBe(2);
        expect(view.tierHistory.map((h) => [h.tier, h.causedBy])).toEqual([
          [0, expect.any(String)],
          [1, expect.any(String)],
          [2, hostilities.eventId],
        ]);
        expect(tasksOf(view, 2)).toEqual([...COALITION_TASKS].sort());
        expect(tasksOf(view, 3)).toEqual([]);
        expect(new Set(view.coalitionTasks.map((t) => t.dueAt))).toEqual(
          new Set([hoursAfter(at, 12)]),
        );
        const assigned = await api.eventsOfType(id, 'CoalitionTaskAssigned');
        expect(assigned).toHaveLength(9);
        expect(new Set(assigned.map((e) => e.occurredAt))).toEqual(new Set([at]));
        expect(view.obligations.filter((o) => o.kind === 'coalition-ack')).toHaveLength(9);
      });

      it('gives an incident that jumps from tier 1 to 3 the measures of both tiers and a Western-response obligation', async () => {
        const now = await api.clockNow();
        const firstViolation = hoursAfter(now, -10);
        const { incidentId: id } = await incidents.report(freshSector(), firstViolation);
        await incidents.verdict(id, 'confirmed', hoursAfter(now, -2));

        const assessment = await incidents.post(id, 'assessments', {
          scale: 'large-scale',
          assessor: 'joint cell',
          occurredAt: hoursAfter(now, -1),
        });

        const view = await incidents.view(id);
        expect(view.tier).toBe(3);
        expect(view.tierHistory.filter((h) => h.tier >= 2)).toEqual([
          expect.objectContaining({ tier: 2, causedBy: assessment.eventId }),
          expect.objectContaining({ tier: 3, causedBy: assessment.eventId }),
        ]);
        expect(view.coalitionTasks).toHaveLength(14);
        expect(tasksOf(view, 2)).toEqual([...COALITION_TASKS].sort());
        expect(tasksOf(view, 3)).toEqual([...WESTERN_FORCE_TASKS].sort());
        expect(obligation(view, 'western-response')).toEqual({
          kind: 'western-response',
          dueAt: hoursAfter(firstViolation, 72),
          status: 'open',
        });
        expect(await incidents.count(id, 'CoalitionTaskAssigned')).toBe(14);
      });
    });

    describe('notification', () => {
      it('issues the warning for an authorize-warning decision, at the decision occurredAt', async () => {
        const { id } = await incidents.confirmed();
        const decidedAt = hoursAfter(await api.clockNow(), -0.25);

        const other = await incidents.post(id, 'decisions', {
          authority: 'UA NSC',
          decision: 'other',
          rationale: 'keep monitoring',
        });
        expect(await incidents.count(id, 'WarningIssued')).toBe(0);
        const decision = await incidents.post(id, 'decisions', {
          authority: 'UA NSC',
          decision: 'authorize-warning',
          rationale: 'confirmed breach',
          occurredAt: decidedAt,
        });

        const warnings = await api.eventsOfType(id, 'WarningIssued');
        expect(warnings).toEqual([
          expect.objectContaining({
            occurredAt: decidedAt,
            metadata: expect.objectContaining({
              actor: expect.objectContaining({ id: 'notification-service' }),
              causationId: decision.eventId,
            }),
          }),
        ]);
        expect(warnings[0].metadata.causationId).not.toBe(other.eventId);
        expect(obligation(await incidents.view(id), 'warning')).toMatchObject({
          status: 'met',
          satisfiedAt: decidedAt,
        });
      });
    });

    describe('repeated violation', () => {
      it.each(['override', 'quorum'] as const)(
        'raises the third confirmed breach of a sector within 168 h to tier 2 at confirmation (%s)',
        async (how) => {
          const now = await api.clockNow();
          const sector = freshSector('hot');
          const old = await incidents.report(sector, hoursAfter(now, -300));
          await incidents.verdict(old.incidentId, 'confirmed');
          const first = await incidents.report(sector, hoursAfter(now, -100));
          await incidents.verdict(first.incidentId, 'confirmed');
          // The old one lies 199 h before the second's report: outside the window.
          const second = await incidents.report(sector, hoursAfter(now, -2));
          await incidents.verdict(second.incidentId, 'confirmed');
          const third = await incidents.report(sector, hoursAfter(now, -1));
          const elsewhere = await incidents.report(freshSector('far'), hoursAfter(now, -1));
          await incidents.verdict(elsewhere.incidentId, 'confirmed');

          let confirmationId: string;
          if (how === 'override') {
            confirmationId = (await incidents.verdict(third.incidentId, 'confirmed')).eventId;
          } else {
            await incidents.finding(third.incidentId, 'UA', 'confirmed');
            await incidents.finding(third.incidentId, 'FR', 'confirmed');
            [{ id: confirmationId }] = await api.eventsOfType(third.incidentId, 'BreachConfirmed');
          }

          for (const { incidentId } of [old, first, second, elsewhere]) {
            const view = await incidents.view(incidentId);
            expect({ incidentId, tier: view.tier, tasks: view.coalitionTasks.length }).toEqual({
              incidentId,
              tier: 1,
              tasks: 0,
            });
          }
          const view = await incidents.view(third.incidentId);
          expect(view.tier).toBe(2);
          expect(view.tierHistory.map((h) => [h.tier, h.causedBy])).toEqual([
            [0, third.eventId],
            [1, confirmationId],
            [2, confirmationId],
          ]);
          expect(tasksOf(view, 2)).toEqual([...COALITION_TASKS].sort());
          const [confirmed] = await api.eventsOfType(third.incidentId, 'BreachConfirmed');
          expect(confirmed.data.repeatedViolation).toMatchObject({
            sector,
            windowHours: 168,
            incidentIds: expect.arrayContaining([first.incidentId, second.incidentId]),
          });
        },
      );
    });

    describe('deadlines', () => {
      it('appends exactly one DeadlineMissed within 10 s of the warning dueAt passing', async () => {
        const { id, warningDueAt } = await incidents.confirmed();
        const movedAt = Date.now();

        await api.advanceClock(hoursAfter(warningDueAt, 1 / 3600));
        const [missed] = await eventually(async () => {
          const found = await api.eventsOfType(id, 'DeadlineMissed');
          return found.length > 0 ? found : undefined;
        }, 'DeadlineMissed of the warning');

        expect(Date.now() - movedAt).toBeLessThan(10 * SECOND_MS);
        expect(missed).toMatchObject({
          occurredAt: warningDueAt,
          data: { obligation: 'warning', dueAt: warningDueAt },
          metadata: { actor: { id: 'deadline-scheduler' } },
        });
        await api.advanceClock(hoursAfter(warningDueAt, 2));
        await incidents.tick();
        await incidents.tick();
        expect(missedKeys(await api.events(id))).toEqual(['warning']);
        expect(obligation(await incidents.view(id), 'warning')).toMatchObject({
          status: 'missed',
          missedAt: warningDueAt,
        });
      });

      it('misses an obligation that opens with its dueAt already past within 10 s, without the clock moving', async () => {
        const now = await api.clockNow();
        const reportedAt = hoursAfter(now, -7);
        const startedAt = Date.now();

        const { incidentId: id } = await incidents.report(freshSector(), reportedAt);

        const [missed] = await eventually(async () => {
          const found = await api.eventsOfType(id, 'DeadlineMissed');
          return found.length > 0 ? found : undefined;
        }, 'DeadlineMissed of a verification overdue when reported');
        expect(Date.now() - startedAt).toBeLessThan(10 * SECOND_MS);
        expect(missed.data).toEqual({
          obligation: 'verification',
          dueAt: hoursAfter(reportedAt, 6),
        });
        expect(await api.clockNow()).toBe(now);
      });

      it('shows an obligation met, recorded late, when a warning issued before its dueAt is recorded after the miss', async () => {
        const late = await incidents.confirmed();
        const tooLate = await incidents.confirmed();
        await api.advanceClock(hoursAfter(late.warningDueAt, 1));
        await eventually(
          async () =>
            (await incidents.count(late.id, 'DeadlineMissed')) > 0 &&
            (await incidents.count(tooLate.id, 'DeadlineMissed')) > 0
              ? true
              : undefined,
          'both warnings missed',
        );
        await incidents.settle();

        const issuedBefore = hoursAfter(late.warningDueAt, -2);
        const warning = { channel: 'OSCE', recipient: 'RU', reference: 'note-1' };
        await incidents.post(late.id, 'warnings', { ...warning, occurredAt: issuedBefore });
        await incidents.post(tooLate.id, 'warnings', {
          ...warning,
          occurredAt: hoursAfter(tooLate.warningDueAt, 0.5),
        });

        expect(obligation(await incidents.view(late.id), 'warning')).toEqual({
          kind: 'warning',
          dueAt: late.warningDueAt,
          status: 'met',
          satisfiedAt: issuedBefore,
          missedAt: late.warningDueAt,
          recordedLate: true,
        });
        expect(missedKeys(await api.events(late.id))).toEqual(['warning']);
        const notMet = obligation(await incidents.view(tooLate.id), 'warning');
        expect(notMet).toMatchObject({ status: 'missed', missedAt: tooLate.warningDueAt });
        expect(notMet.recordedLate).toBeUndefined();
        expect(notMet.satisfiedAt).toBeUndefined();
      });

      it('closes the obligations of a resolved incident: none is missed when the clock passes', async () => {
        const { id, warningDueAt } = await incidents.confirmed();
        await incidents.post(id, 'hostilities', { observation: 'shelling continues' });
        const { incidentId: unverified } = await incidents.report(freshSector());

        await incidents.post(id, 'resolution', { resolution: 'ceased' });
        await incidents.post(unverified, 'resolution', { resolution: 'false-alarm' });
        await api.advanceClock(hoursAfter(warningDueAt, 1));
        await incidents.tick();

        const view = await incidents.view(id);
        expect(view.status).toBe('resolved');
        expect(view.tier).toBe(2);
        expect(view.obligations.map((o) => `${o.kind} ${o.status}`).sort()).toEqual(
          [
            'verification met',
            'warning closed',
            ...Array<string>(9).fill('coalition-ack closed'),
          ].sort(),
        );
        expect(obligation(await incidents.view(unverified), 'verification').status).toBe('closed');
        expect(await incidents.count(id, 'DeadlineMissed')).toBe(0);
        expect(await incidents.count(unverified, 'DeadlineMissed')).toBe(0);
        const after = await api.post(`/v1/incidents/${id}/warnings`, {
          channel: 'OSCE',
          recipient: 'RU',
          reference: 'note-late',
        });
        expect({ status: after.status, reason: after.body.reason }).toEqual({
          status: 409,
          reason: 'incident-resolved',
        });
      });
    });

    describe('deadlines across a restart', () => {
      it('keeps exactly one DeadlineMissed after the runtime restarts on the same store', async () => {
        const { id, warningDueAt } = await incidents.confirmed();
        const movedTo = hoursAfter(warningDueAt, 1);
        await api.advanceClock(movedTo);
        await eventually(
          async () => ((await incidents.count(id, 'DeadlineMissed')) > 0 ? true : undefined),
          'DeadlineMissed before the restart',
        );

        await restart();

        expect(await api.clockNow()).toBe(movedTo);
        await api.advanceClock(hoursAfter(warningDueAt, 5));
        await incidents.tick();
        await incidents.tick();
        expect(missedKeys(await api.events(id))).toEqual(['warning']);
        expect(obligation(await incidents.view(id), 'warning').status).toBe('missed');
      });
    });

    if (storeName === 'PostgreSQL') {
      describe('with a second instance on the same database', () => {
        let second: InProcessSystem;
        let a: IncidentDriver;
        let b: IncidentDriver;

        beforeAll(async () => {
          second = await startOn(location);
          a = incidents;
          b = new IncidentDriver(new TrucelineApi(second.baseUrl, second.jwtSecret), second);
        }, 60_000);
        afterAll(() => second?.close());

        it('appends exactly one DeadlineMissed per missed obligation with two schedulers', async () => {
          const { id, warningDueAt } = await a.confirmed();
          await a.post(id, 'hostilities', { observation: 'shelling continues' });
          await b.settle();
          const open = (await a.view(id)).obligations.filter((o) => o.status === 'open');
          expect(open).toHaveLength(10);
          const to = hoursAfter(warningDueAt, 1);

          // Both instances see the clock move at once, so both schedulers race for every miss.
          await Promise.all([a.api.advanceClock(to), b.api.advanceClock(to)]);
          await eventually(
            async () => ((await a.count(id, 'DeadlineMissed')) >= 10 ? true : undefined),
            'ten DeadlineMissed',
          );
          await Promise.all([a.tick(), b.tick()]);
          await Promise.all([a.tick(), b.tick()]);

          const keys = missedKeys(await a.api.events(id));
          expect(keys).toEqual(
            [
              'warning',
              ...(await a.view(id)).coalitionTasks.map((t) => `coalition-ack:${t.taskId}`),
            ].sort(),
          );
        });

        it('follows the exercise clock moved through the other instance (SPEC §8)', async () => {
          const to = hoursAfter(await a.api.clockNow(), 3);

          await a.api.advanceClock(to);

          await eventually(
            async () => ((await b.api.clockNow()) === to ? true : undefined),
            'the second instance at the moved clock',
          );
        });
      });
    }
  },
);
