import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { SseClient } from '../apps/api/src/feeds/testing/sse-client';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { sharedScenarioFile } from './support/shared-scenarios';
import {
  Caller,
  Created,
  expectStatus,
  Json,
  ministryOf,
  TrucelineApi,
} from './support/truceline-api';

/**
 * A ministry's partner feed over HTTP (SPEC §6): the seed scenario through the real
 * system, followed by PL page by page and live over Server-Sent Events, with a client that
 * drops out mid-scenario and comes back with Last-Event-ID.
 */
jest.setTimeout(120_000);

interface Entry {
  seq: number;
  id: string;
  type: string;
  incidentId: string;
  data: Json;
}
interface FeedPage {
  partner: string;
  entries: Entry[];
  next: number;
}

const PL = ministryOf('PL');
/** The steps after which the first client drops out and the second resumes (of 26). */
const DISCONNECT_AFTER_STEP = 4;
const RESUME_AFTER_STEP = 9;

describe('partner feeds over HTTP after the seed scenario', () => {
  let system: InProcessSystem;
  let api: TrucelineApi;
  let first: SseClient;
  let resumed: SseClient | undefined;
  let resumedFrom = 0;
  let feed: Entry[];

  const openStream = (as: Caller, headers: Record<string, string> = {}) =>
    SseClient.open(new URL('/v1/feed/stream', system.baseUrl), {
      authorization: `Bearer ${api.token(as)}`,
      ...headers,
    });

  /** The whole feed, three entries a page, so paging itself is exercised. */
  const pagedFeed = async (as: Caller): Promise<Entry[]> => {
    const entries: Entry[] = [];
    for (let after = 0; ;) {
      const page = expectStatus(
        await api.get<FeedPage>(`/v1/feed?after=${after}&limit=3`, as),
        200,
      );
      expect(page.partner).toBe(as.partner);
      if (page.entries.length === 0) return entries;
      expect(page.entries.length).toBeLessThanOrEqual(3);
      entries.push(...page.entries);
      after = page.next;
    }
  };

  beforeAll(async () => {
    system = await startInProcessSystem({ clockStart: '2026-03-01T00:00:00Z' });
    api = new TrucelineApi(system.baseUrl, system.jwtSecret);
    first = await openStream(PL);

    const lines: string[] = [];
    const result = await runScenario(
      readScenarioFile(sharedScenarioFile('seed-three-tier-escalation')),
      {
        baseUrl: system.baseUrl,
        jwtSecret: system.jwtSecret,
        log: (line) => lines.push(line),
        onProgress: async (progress) => {
          if (progress.kind !== 'step') return;
          if (progress.result.index === DISCONNECT_AFTER_STEP) {
            await first.until((c) => c.events.length > 0, 'the first entries');
            first.close();
          }
          if (progress.result.index === RESUME_AFTER_STEP) {
            resumedFrom = first.ids.at(-1) ?? 0;
            resumed = await openStream(PL, { 'Last-Event-ID': String(resumedFrom) });
          }
        },
      },
    );
    if (!result.passed) throw new Error(`the seed scenario failed:\n${lines.join('\n')}`);
    await system.runtime.settle();
    feed = await pagedFeed(PL);
  }, 120_000);
  afterAll(async () => {
    first?.close();
    resumed?.close();
    await system?.close();
  });

  it('pages PL through its whole feed: gap-free seqs, each entry once', () => {
    expect(feed.map((e) => e.seq)).toEqual(feed.map((_, i) => i + 1));
    expect(new Set(feed.map((e) => e.id)).size).toBe(feed.length);
  });

  it("holds what PL may see: the report without its source's id, the confirmation, the warning, the tier changes", () => {
    const types = feed.map((e) => e.type);
    const report = feed.find((e) => e.type === 'BreachReported');

    expect(types).toEqual(
      expect.arrayContaining(['BreachConfirmed', 'WarningIssued', 'IncidentTierChanged']),
    );
    expect(report?.data.source).toBeDefined();
    expect(report?.data.source).not.toHaveProperty('id');
    expect(types).not.toContain('VerificationFindingSubmitted');
    expect(feed.filter((e) => ['GB', 'FR'].includes(String(e.data.member)))).toEqual([]);
  });

  it('streams the same entries live, and a client resumed with Last-Event-ID gets every remaining one exactly once', async () => {
    if (!resumed) throw new Error('the second client never connected');
    const last = feed.at(-1)?.seq ?? 0;
    await resumed.until((c) => (c.ids.at(-1) ?? 0) >= last, 'the resumed stream');

    expect(first.ids.length).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThan(last);
    expect([...first.ids, ...resumed.ids]).toEqual(feed.map((e) => e.seq));
    const streamed = [...first.events, ...resumed.events].map((e) => JSON.parse(e.data) as Entry);
    expect(streamed).toEqual(feed);
    expect(resumed.events.map((e) => e.event)).toEqual(
      resumed.ids.map((seq) => feed[seq - 1].type),
    );
  });

  it('answers a second acknowledgement of a notice with the first result, appending nothing', async () => {
    const notice = feed.find((e) => e.type === 'IncidentTierChanged');
    if (!notice) throw new Error('no tier change in the PL feed');

    const once = expectStatus(
      await api.post<Created>('/v1/feed/acknowledgements', { eventId: notice.id }, PL),
      201,
    );
    await system.runtime.settle();
    const head = await system.runtime.store.headPosition();
    const twice = expectStatus(
      await api.post<Created>('/v1/feed/acknowledgements', { eventId: notice.id }, PL),
      201,
    );
    await system.runtime.settle();

    expect(twice).toEqual(once);
    expect(once.incidentId).toBe(notice.incidentId);
    expect(await system.runtime.store.headPosition()).toBe(head);
  });
});
