import type { IncidentView } from '@truceline/projections';
import { randomUUID } from 'node:crypto';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import {
  AUDITOR,
  Caller,
  expectStatus,
  freshSector,
  Json,
  ministryOf,
  OPERATOR,
  Problem,
  SERVICE,
  TrucelineApi,
  verifierOf,
} from './support/truceline-api';

/**
 * Access enforced on every read of the HTTP API (SPEC §6, §7): each GET route against
 * each role, and a ministry's entitlement to an incident's data and to its own feed only. The
 * real system in-process; one incident escalated to tier 2, so GB and FR both hold tasks.
 */
jest.setTimeout(30_000);

interface Receipt {
  partner: string;
  eventId: string;
  at: string;
}
type ViewWithReceipts = IncidentView & { acknowledgements?: Receipt[] };
interface FeedPage {
  partner: string;
  entries: { seq: number; id: string; type: string; incidentId: string; data: Json }[];
  next: number;
}

const GB = ministryOf('GB');
const FR = ministryOf('FR');
const CALLERS: [string, Caller][] = [
  ['operator', OPERATOR],
  ['auditor', AUDITOR],
  ['service', SERVICE],
  ['verifier', verifierOf('GB')],
  ['ministry', GB],
];

describe('access to what the HTTP API reads', () => {
  let system: InProcessSystem;
  let api: TrucelineApi;
  let incidentId: string;
  let full: ViewWithReceipts;

  beforeAll(async () => {
    system = await startInProcessSystem({ clockStart: '2026-03-01T00:00:00Z' });
    api = new TrucelineApi(system.baseUrl, system.jwtSecret);
    incidentId = await api.report(freshSector());
    await api.command(`/v1/incidents/${incidentId}/verdict`, {
      verdict: 'confirmed',
      reason: 'video',
    });
    await api.command(`/v1/incidents/${incidentId}/hostilities`, { observation: 'shelling' });
    await system.runtime.settle();
    full = await api.incident(incidentId);
  }, 60_000);
  afterAll(() => system?.close());

  /** The status of a GET; a stream's body is dropped once its headers are in. */
  const statusOf = async (path: string, as: Caller | null): Promise<number> => {
    const abort = new AbortController();
    const response = await fetch(new URL(path, system.baseUrl), {
      headers: as ? { authorization: `Bearer ${api.token(as)}` } : {},
      signal: abort.signal,
    });
    abort.abort();
    return response.status;
  };

  const tasksOf = (member: string) => full.coalitionTasks.filter((t) => t.member === member);

  it('sets the scene: GB and FR are both tasked at tier 2', () => {
    expect(tasksOf('GB').length).toBeGreaterThan(0);
    expect(tasksOf('FR').length).toBeGreaterThan(0);
  });

  describe('every GET route, by role', () => {
    const routes = (): [string, string[]][] => [
      ['/v1/incidents', ['operator', 'auditor']],
      ['/v1/incidents?tier=2', ['operator', 'auditor']],
      [`/v1/incidents/${incidentId}`, ['operator', 'auditor', 'ministry']],
      [`/v1/incidents/${incidentId}/events`, ['operator', 'auditor']],
      ['/v1/feed', ['ministry']],
      ['/v1/feed/stream', ['ministry']],
      // Not about any incident: every role follows the one exercise clock (SPEC §2).
      ['/v1/exercise/clock', ['operator', 'auditor', 'service', 'verifier', 'ministry']],
    ];

    it('answers 401 on each without a token', async () => {
      const statuses = await Promise.all(routes().map(([path]) => statusOf(path, null)));

      expect(statuses).toEqual(routes().map(() => 401));
    });

    it.each(CALLERS)(
      'answers the %s only the routes of its role, 403 on the others',
      async (role, caller) => {
        const expected = routes().map(([path, roles]) => [path, roles.includes(role) ? 200 : 403]);

        const actual = await Promise.all(
          routes().map(async ([path]) => [path, await statusOf(path, caller)]),
        );

        expect(actual).toEqual(expected);
      },
    );
  });

  describe('an incident as a ministry sees it', () => {
    it('leaves out the tasks of other members and their coalition-ack obligations', async () => {
      const gb = await api.incident(incidentId, GB);
      const gbTasks = new Set(tasksOf('GB').map((t) => t.taskId));
      const acks = (view: IncidentView) =>
        view.obligations.filter((o) => o.kind === 'coalition-ack').map((o) => o.refId);

      expect(gb.coalitionTasks).toEqual(tasksOf('GB'));
      expect(gb.coalitionTasks.some((t) => t.member === 'FR')).toBe(false);
      expect(acks(gb).sort()).toEqual([...gbTasks].sort());
      expect(acks(full).length).toBeGreaterThan(gbTasks.size);
      // What is releasable to all is left as it is.
      expect({ ...gb, coalitionTasks: [], obligations: [], acknowledgements: [] }).toEqual({
        ...full,
        coalitionTasks: [],
        obligations: [],
        acknowledgements: [],
      });
    });

    it('shows UA and US every task', async () => {
      for (const partner of ['UA', 'US']) {
        const view = await api.incident(incidentId, ministryOf(partner));
        expect(view.coalitionTasks).toEqual(full.coalitionTasks);
        expect(view.obligations).toEqual(full.obligations);
        expect(view.tierHistory).toEqual(full.tierHistory);
      }
    });

    it('answers 404 for an incident that does not exist, 400 for an id that cannot', async () => {
      const unknown = await api.get<Problem>(`/v1/incidents/${randomUUID()}`, GB);
      const malformed = await api.get<Problem>('/v1/incidents/not-an-id', GB);

      expect([unknown.status, unknown.body.code]).toEqual([404, 'not-found']);
      expect(malformed.status).toBe(400);
    });
  });

  describe('feeds', () => {
    const pageOf = async (as: Caller, query = '') =>
      expectStatus(await api.get<FeedPage>(`/v1/feed${query}`, as), 200);

    /** Every entry of a partner's feed. */
    const feedOf = async (as: Caller) => {
      const entries: FeedPage['entries'] = [];
      for (let after = 0; ;) {
        const page = await pageOf(as, `?after=${after}&limit=500`);
        entries.push(...page.entries);
        if (page.entries.length === 0) return entries;
        after = page.next;
      }
    };
    const taskIdOf = (entry: FeedPage['entries'][number]) =>
      typeof entry.data?.taskId === 'string' ? entry.data.taskId : undefined;

    it("is always the token's own partner: no parameter can name another", async () => {
      const page = await pageOf(GB);
      const asking = await api.get<Problem>('/v1/feed?partner=FR', GB);
      const streaming = await statusOf('/v1/feed/stream?partner=FR', GB);

      expect(page.partner).toBe('GB');
      expect(asking.status).toBe(400);
      expect(asking.body.errors?.map((e) => e.field)).toEqual(['partner']);
      expect(streaming).toBe(400);
    });

    it("holds GB's tasks and none of FR's; FR's holds its own", async () => {
      const frTasks = new Set(tasksOf('FR').map((t) => t.taskId));
      const gbTasks = new Set(tasksOf('GB').map((t) => t.taskId));

      const gbTaskIds = (await feedOf(GB)).map(taskIdOf).filter((id) => id !== undefined);
      const frTaskIds = (await feedOf(FR)).map(taskIdOf).filter((id) => id !== undefined);

      expect(gbTaskIds.some((id) => frTasks.has(id))).toBe(false);
      expect(new Set(gbTaskIds)).toEqual(gbTasks);
      expect(new Set(frTaskIds)).toEqual(frTasks);
    });

    it("keeps a partner's receipts from other ministries, and refuses a notice of another feed", async () => {
      const notice = (await feedOf(GB)).find(
        (e) => e.type === 'CoalitionTaskAssigned' && e.incidentId === incidentId,
      );
      if (!notice) throw new Error('no task notice in the GB feed');

      const foreign = await api.post<Problem>(
        '/v1/feed/acknowledgements',
        { eventId: notice.id },
        FR,
      );
      await api.command('/v1/feed/acknowledgements', { eventId: notice.id }, GB);
      const seenBy = async (as: Caller) =>
        ((await api.incident(incidentId, as)) as ViewWithReceipts).acknowledgements?.map(
          (r) => `${r.partner} ${r.eventId}`,
        );

      expect(foreign.status).toBe(404);
      expect(await seenBy(OPERATOR)).toEqual([`GB ${notice.id}`]);
      expect(await seenBy(GB)).toEqual([`GB ${notice.id}`]);
      // Left out, not empty, as for an incident without receipts (SPEC §6 body).
      expect(await seenBy(FR)).toBeUndefined();
      expect(await seenBy(ministryOf('UA'))).toBeUndefined();
    });
  });
});
