import type { PartnerWebhook } from '@truceline/config';
import { StoredEvent } from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import {
  assessed,
  confirmed,
  FactDraft,
  h,
  hostilitiesPersisted,
  INCIDENT_ID,
  incidentSpec,
  reported,
  resolved,
  taskAssigned,
  warningIssued,
} from '@truceline/testing';
import { planDeliveries, WebhookNotice } from './delivery-plan';

const webhooksOf = (...partners: string[]): ReadonlyMap<string, PartnerWebhook> =>
  new Map(
    partners.map((partner) => [
      partner,
      {
        partner,
        webhookUrl: `https://${partner.toLowerCase()}.example.org/hook`,
        secrets: ['whsec_c2VjcmV0'],
      },
    ]),
  );

const TASK_PL = {
  taskId: 'task-pl',
  member: 'PL',
  capability: 'land',
  tier: 2,
  dueAt: h(20),
} as const;
const TASK_NO = {
  taskId: 'task-no',
  member: 'NO',
  capability: 'maritime',
  tier: 2,
  dueAt: h(20),
} as const;

/** The incident of the drafts, as the planner gets it: folded state plus the stored events. */
function planFor(drafts: FactDraft[], webhooks = webhooksOf('FR', 'GB', 'PL')) {
  const given = incidentSpec().given(...drafts);
  const events = given.facts.map((f, i): StoredEvent => ({
    ...f,
    schemaVersion: 1,
    position: i + 1,
    metadata: {
      correlationId: `corr-${i}`,
      causationId: null,
      actor: { id: 'operator-1', role: 'operator' },
      policyVersion: 1,
    },
  }));
  return { events, plans: planDeliveries(INCIDENT_ID, given.state(), events, webhooks) };
}

const notices = (plans: { body: string }[]): WebhookNotice[] =>
  plans.map((p) => JSON.parse(p.body) as WebhookNotice);

describe(planDeliveries.name, () => {
  it('notifies every partner with a webhook of every tier reached', () => {
    const { plans, events } = planFor([reported(), confirmed(), hostilitiesPersisted()]);

    expect(plans.map((p) => `${p.subject}:${p.ref}:${p.partner}`)).toEqual([
      'tier-change:0:FR',
      'tier-change:0:GB',
      'tier-change:0:PL',
      'tier-change:1:FR',
      'tier-change:1:GB',
      'tier-change:1:PL',
      'tier-change:2:FR',
      'tier-change:2:GB',
      'tier-change:2:PL',
    ]);
    expect(plans[5]).toEqual({
      deliveryId: deterministicId(INCIDENT_ID, 'tier-change', '1', 'PL'),
      incidentId: INCIDENT_ID,
      partner: 'PL',
      subject: 'tier-change',
      tier: 1,
      ref: '1',
      url: 'https://pl.example.org/hook',
      body: expect.any(String),
      causationId: events[1].id,
      correlationId: 'corr-1',
    });
    expect(notices(plans)[5]).toEqual({
      deliveryId: plans[5].deliveryId,
      incidentId: INCIDENT_ID,
      subject: 'tier-change',
      tier: 1,
      occurredAt: h(1),
      exercise: false,
    });
  });

  it('notifies a skipped tier too: 1 → 3 reports tiers 2 and 3', () => {
    const { plans } = planFor([reported(), confirmed(), assessed('large-scale')], webhooksOf('GB'));

    expect(plans.map((p) => p.tier)).toEqual([0, 1, 2, 3]);
  });

  it('sends each task to its member only, and only to a member with a webhook', () => {
    const { plans, events } = planFor([
      reported(),
      confirmed(),
      hostilitiesPersisted(),
      taskAssigned(TASK_PL),
      taskAssigned(TASK_NO),
    ]);

    const tasks = plans.filter((p) => p.subject === 'task');
    expect(tasks.map((p) => p.partner)).toEqual(['PL']);
    expect(tasks[0]).toMatchObject({
      deliveryId: deterministicId(INCIDENT_ID, 'task', 'task-pl', 'PL'),
      ref: 'task-pl',
      tier: 2,
      causationId: events[3].id,
    });
    expect(notices(tasks)[0]).toEqual({
      deliveryId: tasks[0].deliveryId,
      incidentId: INCIDENT_ID,
      subject: 'task',
      tier: 2,
      taskId: 'task-pl',
      member: 'PL',
      capability: 'land',
      dueAt: h(20),
      occurredAt: h(3),
      exercise: false,
    });
  });

  it('sends every warning issued to every partner', () => {
    const { plans, events } = planFor([reported(), confirmed(), warningIssued(), warningIssued()]);

    const warnings = plans.filter((p) => p.subject === 'warning');
    expect(warnings.map((p) => `${p.ref}:${p.partner}`)).toEqual([
      `${events[2].id}:FR`,
      `${events[2].id}:GB`,
      `${events[2].id}:PL`,
      `${events[3].id}:FR`,
      `${events[3].id}:GB`,
      `${events[3].id}:PL`,
    ]);
    expect(warnings[0].tier).toBeUndefined();
    expect(notices(warnings)[0]).toEqual({
      deliveryId: deterministicId(INCIDENT_ID, 'warning', events[2].id, 'FR'),
      incidentId: INCIDENT_ID,
      subject: 'warning',
      warning: { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'note-1' },
      occurredAt: h(2),
      exercise: false,
    });
  });

  it('marks the notices of an exercise incident as exercise data', () => {
    const { plans } = planFor([reported({ exercise: true }), confirmed({ exercise: true })]);

    expect(notices(plans).every((n) => n.exercise)).toBe(true);
  });

  it('plans the same deliveries, byte for byte, every time: planning again adds nothing', () => {
    const drafts = [reported(), confirmed(), hostilitiesPersisted(), taskAssigned(TASK_PL)];

    expect(planFor(drafts).plans).toEqual(planFor(drafts).plans);
  });

  it('keeps what an incident reached after it is resolved', () => {
    const { plans } = planFor([reported(), confirmed(), resolved()], webhooksOf('GB'));

    expect(plans.map((p) => p.tier)).toEqual([0, 1]);
  });

  it('plans nothing without webhooks', () => {
    expect(planFor([reported(), confirmed(), warningIssued()], new Map()).plans).toEqual([]);
  });
});
