import { openNote, parseCheckpoint, parseVerifierKey } from '@truceline/ledger';
import type { IncidentAudit } from '@truceline/projections';
import { readScenarioFile, runScenario, Scenario, ScenarioResult } from '@truceline/scenarios';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Browser, chromium } from 'playwright-core';
import { runCli } from '../apps/cli/src/cli';
import { HEADLESS_ARGS, provideChromium } from '../infra/chromium/chromium';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { REPO_ROOT, sharedScenarioFile } from './support/shared-scenarios';
import { AUDITOR, hoursAfter, ministryOf, Problem, TrucelineApi } from './support/truceline-api';

/** Kept after the run (gitignored): the report as written, its screenshot and its print. */
const OUTPUT = join(REPO_ROOT, 'test-output', 'audit-report');

/**
 * The missed-warning scenario, told on: a decision is taken after the warning window passed,
 * and at 41 h an operator records the warning that was in fact issued at 20 h — a fact
 * recorded late, after its DeadlineMissed.
 */
function lateWarningStory(): Scenario {
  const scenario = readScenarioFile(sharedScenarioFile('missed-warning'));
  const [, , , ...checks] = scenario.steps;
  return {
    ...scenario,
    name: 'late-warning',
    steps: [
      ...scenario.steps.slice(0, 3),
      ...checks.filter((step) => step.at < 27),
      {
        at: 27,
        actor: 'monitor',
        request: 'POST /v1/incidents/{incident}/decisions',
        status: 201,
        body: {
          authority: 'joint-commission',
          decision: 'other',
          rationale: 'ask the embassy whether the note went out',
        },
      },
      {
        at: 41,
        occurred: 20,
        actor: 'monitor',
        request: 'POST /v1/incidents/{incident}/warnings',
        status: 201,
        body: { channel: 'OSCE', recipient: 'RU-MFA', reference: 'note-verbale-20' },
        expect: { tier: 1, obligations: { warning: 'met' }, deadlinesMissed: 1 },
      },
    ],
  };
}

/**
 * Runs in the page (a string: this program has no DOM types): counts the canvas's drawn pixels
 * and those of the tier line, the missed deadline (red) and the late fact (orange).
 */
const COUNT_COLOURS = `(() => {
  const canvas = document.getElementById('timeline-chart');
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const count = { drawn: 0, tier: 0, red: 0, orange: 0 };
  const is = (i, rgb) => data[i] === rgb[0] && data[i + 1] === rgb[1] && data[i + 2] === rgb[2];
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    count.drawn++;
    if (is(i, [0x1f, 0x4e, 0x79])) count.tier++;
    if (is(i, [0xc6, 0x28, 0x28])) count.red++;
    if (is(i, [0xef, 0x6c, 0x00])) count.orange++;
  }
  return count;
})()`;

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l: string) => stdout.push(l), err: (l: string) => stderr.push(l) };
}

describe('truceline audit (exercise mode, embedded store)', () => {
  let system: InProcessSystem;
  let api: TrucelineApi;
  let story: ScenarioResult;
  let incidentId: string;
  const at = (hours: number) => hoursAfter(story.t0, hours);
  const cli = async (...args: string[]) => {
    const io = capture();
    const code = await runCli(
      ['audit', ...args, '--url', system.baseUrl, '--secret', system.jwtSecret],
      {},
      io,
    );
    return { code, ...io };
  };
  const auditJson = async (...args: string[]): Promise<IncidentAudit> => {
    const run = await cli(incidentId, ...args);
    expect(run).toMatchObject({ code: 0, stderr: [] });
    return JSON.parse(run.stdout.join('\n')) as IncidentAudit;
  };

  beforeAll(async () => {
    system = await startInProcessSystem({ clockStart: '2026-03-05T21:30:00Z' });
    api = new TrucelineApi(system.baseUrl, system.jwtSecret);
    const log: string[] = [];
    story = await runScenario(lateWarningStory(), {
      baseUrl: system.baseUrl,
      jwtSecret: system.jwtSecret,
      log: (line) => log.push(line),
    });
    if (!story.passed) throw new Error(`the story did not run:\n${log.join('\n')}`);
    incidentId = story.incidents[''];
    // GB's ministry acknowledges the tier 1 notice of its feed (at 41 h, on the exercise clock).
    const feed = await api.get<{
      entries: { id: string; type: string; incidentId: string; data: { tier?: number } }[];
    }>('/v1/feed?limit=500', ministryOf('GB'));
    const notice = feed.body.entries.find(
      (e) => e.incidentId === incidentId && e.type === 'IncidentTierChanged' && e.data.tier === 1,
    );
    const receipt = await api.post(
      '/v1/feed/acknowledgements',
      { eventId: notice?.id },
      ministryOf('GB'),
    );
    if (receipt.status !== 201) throw new Error(`no receipt: ${JSON.stringify(receipt)}`);
  }, 120_000);
  afterAll(() => system?.close());

  it('shows the warning missed as of a time before the late warning was recorded', async () => {
    const audit = await auditJson('--as-of', at(30));

    expect(audit).toMatchObject({ incidentId, asOf: at(30), exercise: true });
    expect(audit.knownAt).toMatchObject({ tier: 1, status: 'open', exercise: true });
    expect(audit.obligations.find((o) => o.kind === 'warning')).toEqual({
      kind: 'warning',
      dueAt: at(26),
      status: 'missed',
      missed: { at: at(26), recordedAt: at(26.1) },
      policyVersion: 1,
    });
    expect(audit.timeline.map((e) => e.type)).not.toContain('WarningIssued');
  });

  it('shows it met, recorded late, with when it occurred and when it became known, after', async () => {
    const audit = await auditJson('--as-of', at(41));
    const warning = audit.timeline.find((e) => e.type === 'WarningIssued');

    expect(audit.obligations.find((o) => o.kind === 'warning')).toEqual({
      kind: 'warning',
      dueAt: at(26),
      status: 'met',
      satisfiedBy: {
        eventId: warning?.eventId,
        actor: { id: 'osce-style-monitor-desk', role: 'operator' },
        occurredAt: at(20),
        recordedAt: at(41),
      },
      missed: { at: at(26), recordedAt: at(26.1) },
      recordedLate: true,
      policyVersion: 1,
    });
    expect(warning).toMatchObject({ occurredAt: at(20), recordedAt: at(41), recordedLate: true });
    expect(audit.timeline.filter((e) => e.recordedLate).map((e) => e.type)).toEqual([
      'WarningIssued',
    ]);
    expect(audit.tierChanges.map((t) => [t.tier, t.rule, t.policyVersion])).toEqual([
      [0, '0 after BreachReported', 1],
      [1, '1 after BreachConfirmed', 1],
    ]);
    expect(audit.decisions).toEqual([
      expect.objectContaining({ decision: 'other', at: at(27), recordedAt: at(27) }),
    ]);
    expect(audit.notifications).toEqual([
      { partner: 'GB', subject: 'tier-change', tier: 1, acknowledgedAt: at(41) },
    ]);
  });

  it('carries the signed checkpoint of the log covering the events it lists', async () => {
    const { checkpoint, timeline } = await auditJson('--as-of', at(41));
    if (!checkpoint) throw new Error('the audit carries no checkpoint');

    // Signed by the key the log publishes, over the tree size and root hash it states.
    const body = parseCheckpoint(
      openNote(checkpoint.checkpoint, parseVerifierKey(checkpoint.verifierKey)),
    );
    expect(body.treeSize).toBe(checkpoint.treeSize);
    expect(body.rootHash.toString('base64')).toBe(checkpoint.rootHash);
    expect(checkpoint.treeSize).toBeGreaterThanOrEqual(timeline.length);
  });

  it('refuses bad input clearly and changes nothing', async () => {
    const unknown = await cli('2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60');
    const badAsOf = await cli(incidentId, '--as-of', 'last tuesday');
    const notUuid = await cli('incident-42');
    const http = await api.get<Problem>(
      `/v1/incidents/${incidentId}/audit?asOf=31-02-2026`,
      AUDITOR,
    );

    expect(unknown.code).toBe(1);
    expect(unknown.stderr.join('\n')).toMatch(/no incident 2d7e0c8e-.* \(the API answered 404\)/);
    expect(badAsOf.code).toBe(2);
    expect(badAsOf.stderr.join('\n')).toMatch(/--as-of must be an ISO 8601 instant/);
    expect(notUuid.code).toBe(2);
    expect(http.status).toBe(400);
    expect(http.body.errors?.map((e) => e.field)).toEqual(['asOf']);
  });

  it('answers a ministry with what its feed releases, and 404 for what it may not see', async () => {
    const gb = await api.get<IncidentAudit>(`/v1/incidents/${incidentId}/audit`, ministryOf('GB'));
    const unknown = await api.get<Problem>(
      '/v1/incidents/2d7e0c8e-7c35-4a43-9a51-0d3b8c1f2a60/audit',
      ministryOf('GB'),
    );
    const beforeIt = await api.get<Problem>(
      `/v1/incidents/${incidentId}/audit?asOf=${encodeURIComponent(at(-1))}`,
      ministryOf('GB'),
    );

    expect(gb.status).toBe(200);
    expect(gb.body.timeline.every((e) => e.actor.id === undefined)).toBe(true);
    expect(JSON.stringify(gb.body)).not.toContain('patrol-44');
    expect(gb.body.obligations.find((o) => o.kind === 'warning')?.status).toBe('met');
    // A partner's receipts are its own business.
    const fr = await api.get<IncidentAudit>(`/v1/incidents/${incidentId}/audit`, ministryOf('FR'));
    expect(gb.body.notifications.map((n) => n.partner)).toEqual(['GB']);
    expect(fr.body.notifications).toEqual([]);
    expect([unknown.status, beforeIt.status]).toEqual([404, 404]);
  });

  describe('the HTML report in headless Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      rmSync(OUTPUT, { recursive: true, force: true });
      mkdirSync(OUTPUT, { recursive: true });
      browser = await chromium.launch({ executablePath: provideChromium(), args: HEADLESS_ARGS });
    }, 900_000);
    afterAll(() => browser?.close());

    /** Writes the report with the CLI, opens it as a person would, and counts what it drew. */
    async function openReport(name: string, ...args: string[]) {
      const file = join(OUTPUT, `${name}.html`);
      const run = await cli(incidentId, '--format', 'html', '--out', file, ...args);
      expect(run).toMatchObject({ code: 0, stderr: [] });
      const html = readFileSync(file, 'utf8');
      expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="?(https?:)?\/\//i);

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const url = pathToFileURL(file).href;
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => {
        if (r.url() !== url && !r.url().startsWith('data:')) problems.push(`request: ${r.url()}`);
      });
      await page.goto(url);
      await page.waitForSelector('body[data-chart="rendered"]', { timeout: 10_000 });
      const colours = await page.evaluate<Record<string, number>>(COUNT_COLOURS);
      return { page, problems, colours, png: join(OUTPUT, `${name}.png`) };
    }

    it('draws the missed deadline before the late warning was recorded', async () => {
      const { page, problems, colours, png } = await openReport(
        'report-as-of-30h',
        '--as-of',
        at(30),
      );

      expect(colours.tier).toBeGreaterThan(500);
      expect(colours.red).toBeGreaterThan(50);
      expect(colours.orange).toBe(0);
      await page.screenshot({ path: png, fullPage: true });
      expect(problems).toEqual([]);
      await page.close();
    });

    it('is one self-contained file: chart, late fact, tables, EXERCISE banner, print', async () => {
      const { page, problems, colours, png } = await openReport('report', '--as-of', at(41));

      // The warning met but recorded late, and the late fact's bar, are drawn in orange.
      expect(colours.tier).toBeGreaterThan(500);
      expect(colours.orange).toBeGreaterThan(50);
      await expect(page.locator('.exercise').textContent()).resolves.toContain('EXERCISE');
      await expect(page.locator('table').count()).resolves.toBe(5);
      await expect(page.locator('.badge.late').count()).resolves.toBeGreaterThan(1);
      await expect(page.locator('.checkpoint pre').first().textContent()).resolves.toMatch(
        /^truceline\/.+\n\d+\n/,
      );

      await page.screenshot({ path: png, fullPage: true });
      await page.emulateMedia({ media: 'print' });
      await expect(page.locator('#timeline-print').isVisible()).resolves.toBe(true);
      await page.pdf({ path: join(OUTPUT, 'report.pdf'), format: 'A4', landscape: true });
      expect(statSync(png).size).toBeGreaterThan(20_000);
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
