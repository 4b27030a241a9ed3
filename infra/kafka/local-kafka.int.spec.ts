import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  Partitioners,
  ResourcePatternTypes,
  type KafkaMessage,
  type SASLOptions,
} from 'kafkajs';
import { startLocalKafka, type LocalKafka } from './local-kafka';

/** The broker of the jest global setup (or the one KAFKA_BROKERS names). */
function testBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: the jest global setup provides it');
  return brokers.split(',');
}

function client(brokers: string[], sasl?: SASLOptions): Kafka {
  return new Kafka({ clientId: 'local-kafka-int', brokers, sasl, logLevel: logLevel.NOTHING });
}

async function createTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

async function produce(kafka: Kafka, topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: values.map((value, i) => ({
        key: 'incident-1',
        value,
        headers: { ce_type: 'truceline.test.v1', ce_id: `id-${i + 1}` },
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Reads `count` messages of `topic` from the beginning in a new consumer group. */
async function consume(
  kafka: Kafka,
  topic: string,
  groupId: string,
  count: number,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId });
  const messages: KafkaMessage[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`read ${messages.length} of ${count} messages of ${topic}`)),
        30_000,
      );
      // kafkajs restarts the consumer itself after a retriable error (a group coordinator
      // still loading, say); any other error ends the read.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) {
          clearTimeout(timer);
          fail(payload.error);
        }
      });
      void consumer.run({
        eachMessage: async ({ message }) => {
          messages.push(message);
          if (messages.length === count) {
            clearTimeout(timer);
            done();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe('local Kafka: the broker of the test run', () => {
  it('delivers messages with their headers, in order', async () => {
    const kafka = client(testBrokers());
    const topic = `local-kafka.roundtrip.${randomUUID()}`;
    await createTopics(kafka, [topic]);
    const values = ['first', 'second', 'third'].map((n) => JSON.stringify({ n }));

    await produce(kafka, topic, values);
    const messages = await consume(kafka, topic, `local-kafka-${randomUUID()}`, 3);

    expect(messages.map((m) => m.value?.toString())).toEqual(values);
    expect(messages.map((m) => m.offset)).toEqual(['0', '1', '2']);
    expect(messages.map((m) => m.key?.toString())).toEqual(Array(3).fill('incident-1'));
    expect(
      messages.map((m) => [m.headers?.ce_type?.toString(), m.headers?.ce_id?.toString()]),
    ).toEqual([
      ['truceline.test.v1', 'id-1'],
      ['truceline.test.v1', 'id-2'],
      ['truceline.test.v1', 'id-3'],
    ]);
  });
});

describe('local Kafka with SASL/SCRAM-SHA-256, StandardAuthorizer and ACLs', () => {
  const gb: SASLOptions = { mechanism: 'scram-sha-256', username: 'gb', password: 'gb-secret' };
  let secured: LocalKafka;

  beforeAll(async () => {
    secured = await startLocalKafka({
      sasl: {
        users: [
          { name: 'admin', password: 'admin-secret' },
          { name: 'gb', password: gb.password },
        ],
        superUser: 'admin',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await secured?.stop();
  }, 30_000);

  it('lets gb read the topics and groups of its prefix, and nothing else', async () => {
    const admin = client(secured.brokers, secured.sasl);
    const [gbTopic, frTopic] = ['truceline.feed.gb.v1', 'truceline.feed.fr.v1'];
    await createTopics(admin, [gbTopic, frTopic]);
    await produce(admin, gbTopic, ['for gb']);
    await produce(admin, frTopic, ['for fr']);

    const acl = admin.admin();
    await acl.connect();
    try {
      const allowRead = {
        resourceName: 'truceline.feed.gb.',
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        principal: 'User:gb',
        host: '*',
        operation: AclOperationTypes.READ,
        permissionType: AclPermissionTypes.ALLOW,
      };
      await acl.createAcls({
        acl: [
          { ...allowRead, resourceType: AclResourceTypes.TOPIC },
          { ...allowRead, resourceType: AclResourceTypes.GROUP },
        ],
      });
      // The controller commits the ACLs; wait until the broker's authorizer has them too.
      await until(async () => {
        const { resources } = await acl.describeAcls({
          resourceType: AclResourceTypes.ANY,
          resourcePatternType: ResourcePatternTypes.ANY,
          principal: 'User:gb',
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        });
        return resources.length === 2;
      });
    } finally {
      await acl.disconnect();
    }

    const asGb = client(secured.brokers, gb);
    const read = await consume(asGb, gbTopic, 'truceline.feed.gb.reader', 1);
    expect(read.map((m) => m.value?.toString())).toEqual(['for gb']);

    await expect(consume(asGb, frTopic, 'truceline.feed.gb.reader-fr', 1)).rejects.toMatchObject({
      type: 'TOPIC_AUTHORIZATION_FAILED',
    });
  });

  it("preallocates a new partition's indexes at 1 MiB, not Kafka's default 10 MiB", async () => {
    const admin = client(secured.brokers, secured.sasl);
    const topic = `local-kafka.indexes.${randomUUID()}`;
    await createTopics(admin, [topic]);
    await produce(admin, topic, ['one']);

    const segment = join(secured.dataDir, `${topic}-0`, '00000000000000000000');
    const sizes = await Promise.all(
      ['.index', '.timeindex'].map(async (suffix) => (await stat(segment + suffix)).size),
    );
    // The offset index's entries are 8 bytes and the time index's 12: each rounded down.
    expect(sizes).toEqual([1_048_576, 1_048_572]);
  });
});
