import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { transformFileSync } from '@swc/core';
import { incidentStreamId, type StoredEvent } from '@truceline/domain';
import { feedTopic, toKafkaMessage } from '@truceline/messaging';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';

/**
 * The ministry's example consumer (examples/ministry-feed-consumer), run for
 * real as its own process against the run's broker, follows the PL feed and prints the tier
 * changes — each once, in order per incident, whatever else the feed holds.
 */
const REPO_ROOT = resolve(__dirname, '..');
const SOURCE = join(REPO_ROOT, 'examples/ministry-feed-consumer/consumer.ts');
/** Where `npm run build` puts it. */
const BUILT = join(REPO_ROOT, 'dist/examples/ministry-feed-consumer/consumer.js');
const TOPIC = feedTopic('PL');
const FEED_SOURCE = '/truceline/feeds/pl';

/** The built example; compiled here (same compiler as the build) when missing or stale. */
function builtExample(): string {
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < statSync(SOURCE).mtimeMs) {
    const { code } = transformFileSync(SOURCE, {
      swcrc: false,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    mkdirSync(dirname(BUILT), { recursive: true });
    writeFileSync(BUILT, code);
  }
  return BUILT;
}

function kafka(): Kafka {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: the jest global setup provides it');
  return new Kafka({
    clientId: 'example-consumer-e2e',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

let seq = 0;

/** A stored event as the feed relay publishes it: toKafkaMessage's headers plus `ce_seq`. */
function feedEvent(incidentId: string, type: string, data: unknown): Message {
  const event: StoredEvent = {
    id: randomUUID(),
    type,
    schemaVersion: 1,
    streamId: incidentStreamId(incidentId),
    revision: 0,
    position: ++seq,
    occurredAt: '2026-03-01T10:00:00.000Z',
    recordedAt: '2026-03-01T10:00:01.000Z',
    data,
    metadata: {
      correlationId: randomUUID(),
      causationId: null,
      actor: { id: 'operator-1', role: 'operator' },
      policyVersion: 1,
    },
  };
  const message = toKafkaMessage(event, { source: FEED_SOURCE });
  return { ...message, headers: { ...message.headers, ce_seq: String(seq) } };
}

/** An IncidentTierChanged notice, headers built by hand as a CloudEvents binary-mode record. */
function tierChanged(incidentId: string, tier: number, previousTier: number | null, at: string) {
  return {
    key: incidentId,
    value: JSON.stringify({
      incidentId,
      tier,
      previousTier,
      at,
      causedBy: randomUUID(),
      policyVersion: 1,
    }),
    headers: {
      ce_specversion: '1.0',
      ce_id: `${incidentId.slice(0, 24)}${String(tier).padStart(12, '0')}`,
      ce_type: 'truceline.IncidentTierChanged.v1',
      ce_source: FEED_SOURCE,
      ce_subject: incidentId,
      ce_time: at,
      ce_seq: String(++seq),
      'content-type': 'application/json',
    },
  } satisfies Message;
}

class ExampleProcess {
  readonly lines: string[] = [];
  private stderr = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(file: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [file], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      this.lines.push(...lines);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-10_000);
    });
    this.exited = new Promise((done) => this.child.once('exit', (code) => done(code)));
  }

  /** The printed lines about these incidents, once there are `count` of them. */
  async linesAbout(incidents: string[], count: number, timeoutMs = 60_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ours = this.lines.filter((line) => incidents.some((id) => line.includes(id)));
      if (ours.length >= count) return ours;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `the example printed ${ours.length} of ${count} lines about ${incidents}; ` +
            `stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

describe('examples/ministry-feed-consumer: a ministry following its Kafka feed', () => {
  const client = kafka();
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  let example: ExampleProcess | undefined;

  beforeAll(async () => {
    const admin = client.admin();
    await admin.connect();
    try {
      // Another spec (the feed relay's) may have created it already: creating is then a no-op.
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: 3 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    await producer.connect();
  });

  afterAll(async () => {
    await example?.stop();
    await producer.disconnect();
  });

  it('prints each tier change once, in order, and ignores every other entry', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const tierA2 = tierChanged(a, 2, 1, '2026-03-01T10:20:00.000Z');
    await producer.send({
      topic: TOPIC,
      messages: [
        feedEvent(a, 'BreachReported', {
          location: { sector: 'S-7', frontlineKm: 412 },
          category: 'artillery',
          severity: 'major',
          source: { kind: 'monitor' },
          summary: 'shelling',
        }),
        tierChanged(a, 1, null, '2026-03-01T10:05:00.000Z'),
        feedEvent(a, 'BreachConfirmed', { basis: 'quorum', findings: [] }),
        tierA2,
        tierA2, // at-least-once: a redelivered notice, same ce_id
        feedEvent(b, 'WarningIssued', { channel: 'hotline', recipient: 'X', reference: 'W-1' }),
        tierChanged(b, 1, null, '2026-03-01T11:00:00.000Z'),
      ],
    });

    example = new ExampleProcess(builtExample(), {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      PARTNER: 'PL',
      GROUP_ID: `truceline.feed.pl.example-${randomUUID()}`,
    });
    await example.linesAbout([a, b], 3);

    // It keeps following: a tier reached after it started shows up too.
    await producer.send({
      topic: TOPIC,
      messages: [
        feedEvent(a, 'HostilitiesPersisted', { observation: 'still firing' }),
        tierChanged(a, 3, 2, '2026-03-01T12:00:00.000Z'),
      ],
    });
    await example.linesAbout([a, b], 4);
    await new Promise((done) => setTimeout(done, 500)); // a duplicate would have shown by now

    const about = (id: string) => example!.lines.filter((line) => line.includes(id));
    expect(about(a)).toEqual([
      `incident ${a} reached tier 1 at 2026-03-01T10:05:00.000Z`,
      `incident ${a} reached tier 2 at 2026-03-01T10:20:00.000Z`,
      `incident ${a} reached tier 3 at 2026-03-01T12:00:00.000Z`,
    ]);
    expect(about(b)).toEqual([`incident ${b} reached tier 1 at 2026-03-01T11:00:00.000Z`]);

    expect(await example.stop()).toBe(0);
  });
});
