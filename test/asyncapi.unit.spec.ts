import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import {
  INCIDENT_EVENT_TYPES,
  INCIDENT_TIER_CHANGED,
  isReleasable,
  knownPartners,
  LOG_CHECKPOINT,
  POLICY_ADOPTED,
  POLICY_V1,
} from '@truceline/domain';

/** The AsyncAPI document is the published contract of the Kafka feeds: it must parse and cover every event. */
describe('AsyncAPI document', () => {
  const file = path.resolve(__dirname, '../docs/asyncapi.yaml');

  it('is a valid AsyncAPI 3 document without errors or warnings', async () => {
    const sut = new Parser();
    const { document, diagnostics } = await sut.parse(readFileSync(file, 'utf8'));
    const problems = diagnostics
      .filter((d) => d.severity <= 1)
      .map((d) => `${d.path.join('.')}: ${d.message}`);
    expect(problems).toEqual([]);
    expect(document).toBeDefined();
    expect(document?.version()).toMatch(/^3\./);
  });

  it('describes every event type on truceline.events.v1', async () => {
    const { document } = await new Parser().parse(readFileSync(file, 'utf8'));
    const channel = document
      ?.channels()
      .all()
      .find((c) => c.address() === 'truceline.events.v1');
    const names =
      channel
        ?.messages()
        .all()
        .map((m) => m.id()) ?? [];
    expect([...names].sort()).toEqual([...INCIDENT_EVENT_TYPES, POLICY_ADOPTED].sort());
  });

  describe('truceline.feed.{partner}.v1', () => {
    const feed = async () => {
      const { document } = await new Parser().parse(readFileSync(file, 'utf8'));
      const channel = document
        ?.channels()
        .all()
        .find((c) => c.address() === 'truceline.feed.{partner}.v1');
      if (!document || !channel) throw new Error('no channel truceline.feed.{partner}.v1');
      return { document, channel };
    };

    it('has a partner parameter enumerating the lower-case code of every known partner', async () => {
      const { channel } = await feed();
      const partner = channel.parameters().get('partner');
      expect(partner?.schema()?.enum()).toEqual(
        knownPartners(POLICY_V1).map((p) => p.toLowerCase()),
      );
    });

    it('carries IncidentTierChanged with the notice fields, and every type a partner may see', async () => {
      const { channel } = await feed();
      const messages = channel.messages().all();
      const tierChanged = messages.find((m) => m.id() === INCIDENT_TIER_CHANGED);
      expect(tierChanged?.payload()?.required()).toEqual([
        'incidentId',
        'tier',
        'previousTier',
        'at',
        'causedBy',
        'policyVersion',
      ]);
      expect(tierChanged?.headers()?.required()).toContain('ce_seq');

      // A type is on the feed iff the need-to-know rules can release it to some partner.
      const anyone = { verifiers: ['PL'], tasks: [{ taskId: 't', member: 'PL' }] };
      const releasable = [...INCIDENT_EVENT_TYPES, INCIDENT_TIER_CHANGED].filter((type) =>
        isReleasable(
          { type, data: { taskId: 't', verifier: 'PL', verifiers: ['PL'], member: 'PL' } },
          'UA',
          anyone as never,
        ),
      );
      // Besides: each signed checkpoint of the log, to every partner (SPEC §10).
      expect(messages.map((m) => m.id()).sort()).toEqual([...releasable, LOG_CHECKPOINT].sort());
    });

    it('carries LogCheckpoint with the signed note and what it states, keyed `log`', async () => {
      const { channel } = await feed();
      const notice = channel
        .messages()
        .all()
        .find((m) => m.id() === LOG_CHECKPOINT);
      expect(notice?.payload()?.required()).toEqual([
        'checkpoint',
        'origin',
        'treeSize',
        'rootHash',
      ]);
      const [example] = notice?.examples().all() ?? [];
      expect(example?.headers()).toMatchObject({
        ce_type: 'truceline.LogCheckpoint.v1',
        ce_subject: 'log',
      });
      const payload = example?.payload() as {
        checkpoint: string;
        treeSize: number;
        rootHash: string;
        origin: string;
      };
      expect(payload.checkpoint.split('\n').slice(0, 3)).toEqual([
        payload.origin,
        String(payload.treeSize),
        payload.rootHash,
      ]);
    });

    it('gives every feed message the feed headers, and the payloads of the events topic', async () => {
      const { document, channel } = await feed();
      const events = document
        .channels()
        .all()
        .find((c) => c.address() === 'truceline.events.v1');
      for (const message of channel.messages().all()) {
        expect([message.id(), message.headers()?.required()]).toEqual([
          message.id(),
          ['ce_specversion', 'ce_id', 'ce_type', 'ce_source', 'ce_subject', 'ce_time', 'ce_seq'],
        ]);
        const onEvents = events
          ?.messages()
          .all()
          .find((m) => m.id() === message.id());
        if (onEvents && message.id() !== 'BreachReported') {
          expect([message.id(), schemaOf(message.payload()?.json())]).toEqual([
            message.id(),
            schemaOf(onEvents.payload()?.json()),
          ]);
        }
      }
    });

    it('describes BreachReported on the feed without source.id', async () => {
      const { channel } = await feed();
      const report = channel
        .messages()
        .all()
        .find((m) => m.name() === 'BreachReported');
      const source = report?.payload()?.properties()?.source;
      expect(source?.required()).toEqual(['kind']);
      expect(Object.keys(source?.properties() ?? {})).toEqual(['kind']);
    });

    it('is what ministries receive', async () => {
      const { document, channel } = await feed();
      const receivers = document
        .operations()
        .all()
        .filter((op) => op.action() === 'receive' && op.channels().has(channel.id()));
      expect(receivers.map((op) => op.id())).toEqual(['followPartnerFeed']);
    });
  });
});

/** A parsed schema without the parser's own annotations (`x-parser-schema-id` and the like). */
const schemaOf = (json: unknown): unknown =>
  JSON.parse(
    JSON.stringify(json, (key, value) => (key.startsWith('x-parser-') ? undefined : value)),
  );
