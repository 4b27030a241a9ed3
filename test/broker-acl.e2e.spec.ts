import { randomUUID } from 'node:crypto';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  Partitioners,
  ResourcePatternTypes,
  type AclEntry,
  type KafkaMessage,
  type SASLOptions,
} from 'kafkajs';
import { kafkaAclsCommand, partnerAcls, productionAcls, relayAcls } from '../infra/kafka/acls';
import { startLocalKafka, type LocalKafka } from '../infra/kafka/local-kafka';

/**
 * Access enforced by the broker (issue 4, point 4): SASL/SCRAM principals, the KRaft
 * StandardAuthorizer and the production ACLs of infra/kafka/acls.ts confine each ministry to
 * its own feed topic and consumer groups. The broker is one of this spec's own (the run's
 * shared broker has no SASL) and stops in afterAll.
 */
const user = (name: string): SASLOptions => ({
  mechanism: 'scram-sha-256',
  username: name,
  password: `${name}-secret`,
});
const [gb, fr, relay] = [user('gb'), user('fr'), user('relay')];
const TOPICS = {
  gb: 'truceline.feed.gb.v1',
  fr: 'truceline.feed.fr.v1',
  events: 'truceline.events.v1',
};

function client(broker: LocalKafka, sasl: SASLOptions, brokerErrors?: string[]): Kafka {
  return new Kafka({
    clientId: 'broker-acl',
    brokers: broker.brokers,
    sasl,
    retry: { retries: 3, initialRetryTime: 100 },
    // kafkajs reports a group coordinator it may not look up as "not found"; the broker's own
    // answer (GROUP_AUTHORIZATION_FAILED) only shows in its debug log.
    logLevel: brokerErrors ? logLevel.DEBUG : logLevel.NOTHING,
    logCreator: () => (entry) => {
      const error: unknown = entry.log.error;
      if (brokerErrors && typeof error === 'object' && error !== null && 'type' in error) {
        brokerErrors.push(String(error.type));
      }
    },
  });
}

async function until(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Reads `count` messages of `topic` from the beginning in group `groupId`; rejects on refusal. */
async function consume(
  kafka: Kafka,
  topic: string,
  groupId: string,
  count: number,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const messages: KafkaMessage[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`read ${messages.length} of ${count} messages of ${topic}`)),
        30_000,
      );
      // A fresh broker's first group join may crash with restart: true (coordinator still
      // loading): kafkajs restarts the consumer itself. Anything else ends the read.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) {
          clearTimeout(timer);
          fail(payload.error);
        }
      });
      consumer
        .run({
          eachMessage: async ({ message }) => {
            messages.push(message);
            if (messages.length === count) {
              clearTimeout(timer);
              done();
            }
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          fail(error);
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

describe('broker ACLs: each ministry reads its own feed and nothing else', () => {
  let broker: LocalKafka;
  const applied: AclEntry[] = [...partnerAcls('GB'), ...partnerAcls('FR'), ...relayAcls()];

  beforeAll(async () => {
    broker = await startLocalKafka({
      sasl: {
        users: [{ name: 'admin', password: 'admin-secret' }, ...[gb, fr, relay].map(scramUser)],
        superUser: 'admin',
      },
    });
    const admin = client(broker, broker.sasl!).admin();
    await admin.connect();
    try {
      await admin.createAcls({ acl: applied });
      // The controller commits the ACLs; wait until the broker's authorizer serves them too.
      await until(async () => {
        const { resources } = await admin.describeAcls({
          resourceType: AclResourceTypes.ANY,
          resourcePatternType: ResourcePatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        });
        return resources.reduce((n, r) => n + r.acls.length, 0) === applied.length;
      });
    } finally {
      await admin.disconnect();
    }

    // The relay creates its topics and publishes with a transactional producer, as in production.
    const asRelay = client(broker, relay);
    const relayAdmin = asRelay.admin();
    await relayAdmin.connect();
    try {
      await relayAdmin.createTopics({
        topics: Object.values(TOPICS).map((topic) => ({ topic, numPartitions: 1 })),
        waitForLeaders: true,
      });
    } finally {
      await relayAdmin.disconnect();
    }
    for (const [name, topic] of Object.entries(TOPICS)) {
      const producer = asRelay.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
        // The ids of EventRelay (`truceline-relay.<topic>`) and FeedRelay (`truceline-relay.feeds`).
        transactionalId: name === 'events' ? `truceline-relay.${topic}` : 'truceline-relay.feeds',
      });
      await producer.connect();
      try {
        const transaction = await producer.transaction();
        await transaction.send({
          topic,
          messages: [1, 2].map((n) => ({
            key: 'incident-1',
            value: JSON.stringify({ for: name, n }),
            headers: { ce_id: randomUUID(), ce_type: 'truceline.BreachConfirmed.v1' },
          })),
        });
        await transaction.commit();
      } finally {
        await producer.disconnect();
      }
    }
  }, 150_000);

  afterAll(async () => {
    await broker?.stop();
  }, 30_000);

  it('lets GB read truceline.feed.gb.v1 in a group of its prefix', async () => {
    const read = await consume(client(broker, gb), TOPICS.gb, 'truceline.feed.gb.reader', 2);
    expect(read.map((m) => JSON.parse(m.value!.toString()))).toEqual([
      { for: 'gb', n: 1 },
      { for: 'gb', n: 2 },
    ]);
  });

  it('lets FR read its own feed too', async () => {
    const read = await consume(client(broker, fr), TOPICS.fr, 'truceline.feed.fr.reader', 2);
    expect(read.map((m) => JSON.parse(m.value!.toString()).for)).toEqual(['fr', 'fr']);
  });

  it('refuses GB on truceline.feed.fr.v1', async () => {
    await expect(
      consume(client(broker, gb), TOPICS.fr, `truceline.feed.gb.${randomUUID()}`, 1),
    ).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
  });

  it('refuses GB on truceline.events.v1', async () => {
    await expect(
      consume(client(broker, gb), TOPICS.events, `truceline.feed.gb.${randomUUID()}`, 1),
    ).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
  });

  it('refuses GB a consumer group outside its prefix, even on its own topic', async () => {
    for (const group of ['ministry-gb', 'truceline.feed.fr.reader', 'truceline.verification']) {
      const brokerErrors: string[] = [];
      await expect(consume(client(broker, gb, brokerErrors), TOPICS.gb, group, 1)).rejects.toThrow(
        'Failed to find group coordinator',
      );
      expect(brokerErrors).toContain('GROUP_AUTHORIZATION_FAILED');
    }
  });

  it('refuses GB writes, even to its own feed', async () => {
    const producer = client(broker, gb).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await expect(
        producer.send({ topic: TOPICS.gb, messages: [{ key: 'incident-1', value: '{}' }] }),
      ).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
    } finally {
      await producer.disconnect();
    }
  });

  it('documents the same layout as kafka-acls commands, for every known partner', () => {
    const all = productionAcls();
    expect(all.filter((acl) => acl.principal === 'User:pl')).toEqual(partnerAcls('PL'));
    expect(new Set(all.map((acl) => acl.principal)).size).toBe(10 + 1 + 3);
    expect(partnerAcls('GB').map((acl) => kafkaAclsCommand(acl).join(' '))).toEqual([
      '--add --allow-principal User:gb --allow-host * --operation Read --topic truceline.feed.gb. --resource-pattern-type prefixed',
      '--add --allow-principal User:gb --allow-host * --operation Describe --topic truceline.feed.gb. --resource-pattern-type prefixed',
      '--add --allow-principal User:gb --allow-host * --operation Read --group truceline.feed.gb. --resource-pattern-type prefixed',
    ]);
  });
});

function scramUser(sasl: SASLOptions): { name: string; password: string } {
  if (sasl.mechanism !== 'scram-sha-256') throw new Error('SCRAM users only');
  return { name: sasl.username, password: sasl.password };
}
