import type { AuditActor, IncidentAudit } from '@truceline/projections';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chartModel } from './audit-chart-model';

export interface ReportOptions {
  /** The charting library's browser build, inlined: the report loads nothing from anywhere. */
  chartLibrary: string;
  generatedAt: Date;
}

/** Chart.js's UMD build, read from the installed package (it is not among its exports). */
export function loadChartLibrary(): string {
  const dist = dirname(require.resolve('chart.js'));
  return readFileSync(join(dist, 'chart.umd.min.js'), 'utf8');
}

/** The in-page script that draws the chart, kept as a plain browser file beside this one. */
const drawingScript = (): string =>
  readFileSync(join(__dirname, 'report-chart.browser.js'), 'utf8');

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
/**
 * Inline script bodies must never contain `</script` (nor `<!--`), whatever the data says; a
 * source map comment would point a browser's developer tools at a file that is not there.
 */
const inlineScript = (code: string): string =>
  code
    .replace(/^\/\/# sourceMappingURL=.*$/gm, '')
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
const jsonForScript = (value: unknown): string =>
  JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');

const when = (iso: string | undefined): string =>
  iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '';
const time = (iso: string | undefined): string =>
  iso ? `<time datetime="${escapeHtml(iso)}">${escapeHtml(when(iso))}</time>` : '—';
const actorOf = (actor: AuditActor): string =>
  escapeHtml(
    [actor.id, actor.partner ? `${actor.role}, ${actor.partner}` : actor.role]
      .filter(Boolean)
      .join(' · '),
  );
const late = (occurred: string, recorded: string): string => {
  const hours = (Date.parse(recorded) - Date.parse(occurred)) / 3_600_000;
  const span = hours >= 1 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(hours * 60)} min`;
  return `<span class="badge late">recorded late · +${span}</span>`;
};
const table = (caption: string, head: string[], rows: string[][], empty: string): string =>
  rows.length === 0
    ? `<p class="empty">${escapeHtml(empty)}</p>`
    : `<table><caption>${escapeHtml(caption)}</caption><thead><tr>${head
        .map((h) => `<th scope="col">${escapeHtml(h)}</th>`)
        .join('')}</tr></thead><tbody>${rows
        .map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`;

const STATUS_CLASS: Record<string, string> = {
  met: 'ok',
  missed: 'bad',
  open: 'neutral',
  closed: 'neutral',
};

/**
 * The audit as one self-contained HTML file a person reads and prints: an EXERCISE banner for
 * drill data, the incident as known at asOf, the timeline chart (drawn by the inlined Chart.js,
 * no network), and the tables of obligations, tier changes, decisions, events and notices.
 */
export function renderAuditReport(audit: IncidentAudit, options: ReportOptions): string {
  const { knownAt } = audit;
  const typeOf = new Map(audit.timeline.map((e) => [e.eventId, e.type]));
  const exercise = audit.exercise
    ? `<div class="exercise" role="alert">EXERCISE — drill data, not a real breach</div>`
    : '';

  const obligations = audit.obligations.map((o) => [
    `<strong>${escapeHtml(o.kind)}</strong>${o.refId ? `<br><small>${escapeHtml(o.refId)}</small>` : ''}`,
    time(o.dueAt),
    `<span class="badge ${STATUS_CLASS[o.status]}">${escapeHtml(o.status)}</span>` +
      (o.recordedLate ? ' <span class="badge late">recorded late</span>' : ''),
    o.satisfiedBy
      ? `${escapeHtml(typeOf.get(o.satisfiedBy.eventId) ?? o.satisfiedBy.eventId)} by ${actorOf(
          o.satisfiedBy.actor,
        )}<br><small>occurred ${time(o.satisfiedBy.occurredAt)} · recorded ${time(
          o.satisfiedBy.recordedAt,
        )}</small>`
      : '—',
    o.missed
      ? `missed ${time(o.missed.at)}<br><small>recorded ${time(o.missed.recordedAt)}</small>`
      : '—',
    `v${o.policyVersion}`,
  ]);
  const tierChanges = audit.tierChanges.map((t) => [
    `<strong>${t.tier}</strong>`,
    time(t.at),
    escapeHtml(t.rule),
    `${escapeHtml(typeOf.get(t.causedBy) ?? '')}<br><small class="id">${escapeHtml(t.causedBy)}</small>`,
    `v${t.policyVersion}`,
  ]);
  const decisions = audit.decisions.map((d) => [
    `<strong>${escapeHtml(d.decision)}</strong>`,
    escapeHtml(d.authority),
    escapeHtml(d.rationale) +
      (d.optionsConsidered?.length
        ? `<br><small>options considered: ${escapeHtml(d.optionsConsidered.join('; '))}</small>`
        : ''),
    time(d.at),
    time(d.recordedAt),
  ]);
  const events = audit.timeline.map((e) => [
    time(e.occurredAt),
    time(e.recordedAt) + (e.recordedLate ? `<br>${late(e.occurredAt, e.recordedAt)}` : ''),
    `<strong>${escapeHtml(e.type)}</strong>`,
    escapeHtml(e.summary),
    actorOf(e.actor),
    `v${e.policyVersion}`,
  ]);
  const notices = audit.notifications.map((n) => [
    escapeHtml(n.partner),
    escapeHtml(n.subject) + (n.tier === undefined ? '' : ` (tier ${n.tier})`),
    time(n.deliveredAt),
    time(n.acknowledgedAt),
  ]);

  const title = `Audit of incident ${audit.incidentId} as of ${when(audit.asOf)} UTC`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body class="${audit.exercise ? 'is-exercise' : ''}">
${exercise}
<header>
  <h1>Incident audit</h1>
  <p class="subtitle">Truceline · incident <span class="id">${escapeHtml(audit.incidentId)}</span></p>
  <dl class="facts">
    <div><dt>As of (recorded)</dt><dd>${time(audit.asOf)} UTC</dd></div>
    <div><dt>Status</dt><dd>${escapeHtml(knownAt.status)}</dd></div>
    <div><dt>Tier</dt><dd>${knownAt.tier}</dd></div>
    <div><dt>Sector</dt><dd>${escapeHtml(knownAt.sector)}</dd></div>
    <div><dt>First violation</dt><dd>${time(knownAt.firstViolationAt)} UTC</dd></div>
    <div><dt>Revision</dt><dd>${knownAt.revision}</dd></div>
  </dl>
  <p class="note">Built only from events recorded at or before the as-of instant. Times are UTC;
  <em>occurred</em> is when a fact happened, <em>recorded</em> when it became known.</p>
</header>
<main>
<section class="chart">
  <h2>Timeline</h2>
  <div class="chart-box"><canvas id="timeline-chart" role="img" aria-label="Tier over time with deadlines, decisions and late-recorded facts"></canvas></div>
  <img id="timeline-print" alt="Timeline chart">
</section>
<section><h2>Obligations</h2>${table('Every obligation, who met it or when it was missed', ['Obligation', 'Due', 'Status', 'Met by', 'Missed', 'Policy'], obligations, 'No obligations.')}</section>
<section><h2>Tier changes</h2>${table('Each tier reached, the event and the SPEC §5 rule', ['Tier', 'At', 'Rule', 'Caused by', 'Policy'], tierChanges, 'No tier changes.')}</section>
<section><h2>Decisions</h2>${table('Every recorded decision', ['Decision', 'Authority', 'Rationale', 'Taken', 'Recorded'], decisions, 'No decisions recorded.')}</section>
<section><h2>Events</h2>${table('Every event, by when it occurred', ['Occurred', 'Recorded', 'Event', 'Summary', 'Actor', 'Policy'], events, 'No events.')}</section>
<section><h2>Notifications</h2>${table('Every notice delivered and acknowledged', ['Partner', 'Subject', 'Delivered', 'Acknowledged'], notices, 'No notifications.')}</section>
<section class="checkpoint"><h2>Signed checkpoint</h2>${checkpointSection(audit)}</section>
</main>
<footer>Generated ${escapeHtml(options.generatedAt.toISOString())} by truceline audit.${
    audit.exercise ? ' EXERCISE — drill data.' : ''
  }</footer>
<script type="application/json" id="chart-model">${jsonForScript(chartModel(audit))}</script>
<script>${inlineScript(options.chartLibrary)}</script>
<script>${inlineScript(drawingScript())}</script>
</body>
</html>
`;
}

/** The log's signed checkpoint covering every event above: what a partner verifies offline. */
function checkpointSection({ checkpoint }: IncidentAudit): string {
  if (!checkpoint) return '<p class="empty">This audit carries no signed checkpoint.</p>';
  return `<p>Every event listed above is in the first ${checkpoint.treeSize} entries of the
  log whose root hash this checkpoint signs. Verify it with the log's public key, pinned from
  <code>GET /v1/log/checkpoint</code>.</p>
  <dl class="facts">
    <div><dt>Tree size</dt><dd>${checkpoint.treeSize}</dd></div>
    <div><dt>Root hash</dt><dd class="id">${escapeHtml(checkpoint.rootHash)}</dd></div>
  </dl>
  <h3>Signed note</h3><pre>${escapeHtml(checkpoint.checkpoint)}</pre>
  <h3>Verifier key</h3><pre>${escapeHtml(checkpoint.verifierKey)}</pre>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #5b6470; --rule: #d6dbe1; --ok: #2e7d32; --bad: #c62828; --late: #ef6c00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: var(--ink); background: #fff; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
h1 { font-size: 26px; margin: 20px 0 0; }
h3 { font-size: 14px; margin: 14px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
.subtitle { margin: 2px 0 12px; color: var(--muted); }
.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 0; }
.facts div { min-width: 120px; }
.facts dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-size: 16px; font-weight: 600; }
.note { color: var(--muted); font-size: 12px; }
.exercise { position: sticky; top: 0; z-index: 10; text-align: center; font-weight: 800; letter-spacing: .2em;
  padding: 10px; color: #fff; background: repeating-linear-gradient(135deg, #b71c1c 0 18px, #d32f2f 18px 36px); }
.chart-box { position: relative; height: 420px; }
/* Drill data is marked on every printed page too: a fixed watermark repeats on each. */
body.is-exercise::after { content: 'EXERCISE'; position: fixed; top: 45%; left: 0; right: 0; text-align: center;
  font-size: 120px; font-weight: 900; letter-spacing: .2em; color: rgba(198, 40, 40, .05); transform: rotate(-20deg);
  pointer-events: none; z-index: 5; }
#timeline-print { display: none; width: 100%; }
table { width: 100%; border-collapse: collapse; margin: 4px 0 8px; }
caption { text-align: left; color: var(--muted); font-size: 12px; padding-bottom: 4px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--rule); }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td small { color: var(--muted); }
.badge { display: inline-block; white-space: nowrap; padding: 1px 7px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid; }
.badge.ok { color: var(--ok); } .badge.bad { color: #fff; background: var(--bad); border-color: var(--bad); }
.badge.neutral { color: var(--muted); } .badge.late { color: var(--late); }
.empty { color: var(--muted); font-style: italic; }
pre { white-space: pre-wrap; word-break: break-all; background: #f5f7f9; padding: 10px; border: 1px solid var(--rule); }
footer { color: var(--muted); font-size: 12px; margin: 28px auto 24px; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { font-size: 10pt; }
  header, main, footer { max-width: none; padding: 0; }
  .exercise { position: static; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .chart-box { display: none; }
  #timeline-print { display: block; }
  .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, caption { break-after: avoid-page; }
  tr, .chart, pre { break-inside: avoid; }
  thead { display: table-header-group; }
}
`;
