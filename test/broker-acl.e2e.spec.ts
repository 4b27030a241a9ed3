import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { createTestDatabase, TEST_CONSUMER, TestDatabase } from '@truceline/testing';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
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
import {
  EVENT_SERVICES,
  kafkaAclsCommand,
  partnerAcls,
  productionAcls,
  relayAcls,
  serviceAcls,
} from '../infra/kafka/acls';
import { startLocalKafka, type LocalKafka } from '../infra/kafka/local-kafka';
import { startDistributedTopology } from './support/distributed-topology';
import { builtEntry, ProcessGroup } from './support/process-group';
import { sharedScenarioFile, sharedScenarioFiles } from './support/shared-scenarios';

/**
 * Kafka as docs/kafka-acls.md prescribes it, on one broker of this spec's own (the run's shared
 * broker is plaintext): SASL_SSL on the client listener (a throwaway CA and broker certificate
 * made with openssl), SCRAM-SHA-256/512 and PLAIN principals, the KRaft StandardAuthorizer with
 * no access without an ACL, and the production ACLs of infra/kafka/acls.ts.
 *
 * First the distributed processes run the shared scenarios through it, each with its own
 * principal and only its ACLs; a wrong password stops a process at once. Then the ACLs are
 * probed directly: each ministry reads its own feed and nothing else.
 */
type Mechanism = 'scram-sha-256' | 'scram-sha-512' | 'plain';
const user = (name: string, mechanism: Mechanism = 'scram-sha-256'): SASLOptions =>
  ({ mechanism, username: name, password: `${name}-secret` }) as SASLOptions;
const [gb, fr, relay] = [user('gb'), user('fr'), user('relay', 'scram-sha-512')];
/** Each service process under its own principal; between them, every mechanism SPEC §8 names. */
const SERVICE_MECHANISMS: Record<(typeof EVENT_SERVICES)[number], Mechanism> = {
  verification: 'scram-sha-256',
  notification: 'plain',
  'coalition-tasking': 'scram-sha-512',
};
const services = EVENT_SERVICES.map((name) => user(name, SERVICE_MECHANISMS[name]));
// Topics of the direct probes: inside the ministries' prefixes, apart from the real feeds.
const TOPICS = {
  gb: 'truceline.feed.gb.acl-probe',
  fr: 'truceline.feed.fr.acl-probe',
  events: 'truceline.events.v1',
};
const JWT_SECRET = 'sasl-ssl-distributed-secret-of-32-chars';

function client(broker: LocalKafka, sasl: SASLOptions, brokerErrors?: string[]): Kafka {
  return new Kafka({
    clientId: 'broker-acl',
    brokers: broker.brokers,
    sasl,
    ssl: { ca: [readFileSync(broker.tls!.caFile)] },
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
  const consumer = kafka.consumer({ ...TEST_CONSUMER, groupId, allowAutoTopicCreation: false });
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

let broker: LocalKafka;
const applied: AclEntry[] = [
  ...partnerAcls('GB'),
  ...partnerAcls('FR'),
  ...relayAcls(),
  ...EVENT_SERVICES.flatMap((service) => serviceAcls(service)),
];

beforeAll(async () => {
  broker = await startLocalKafka({
    tls: true,
    sasl: {
      users: [
        { name: 'admin', password: 'admin-secret' },
        ...[gb, fr, relay, ...services].map(saslUser),
      ],
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
}, 150_000);

afterAll(async () => {
  await broker?.stop();
}, 30_000);

describe('distributed mode over SASL_SSL, each process with its own principal and ACLs', () => {
  const group = new ProcessGroup();
  let database: TestDatabase | undefined;
  let baseUrl: string;
  /** KAFKA_* of one principal, as an operator would set them for that process. */
  const kafkaEnv = (sasl: SASLOptions): Record<string, string> => {
    const { mechanism, username, password } = sasl as {
      mechanism: string;
      username: string;
      password: string;
    };
    return {
      KAFKA_SASL_MECHANISM: mechanism.toUpperCase(),
      KAFKA_SASL_USERNAME: username,
      KAFKA_SASL_PASSWORD: password,
      KAFKA_SSL_CA_FILE: broker.tls!.caFile,
    };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ baseUrl } = await startDistributedTopology(group, {
      databaseUrl: database.url,
      brokers: broker.brokers.join(','),
      jwtSecret: JWT_SECRET,
      verificationInstances: 1,
      envOf: (name) => {
        if (name === 'relay') return kafkaEnv(relay);
        const service = services.find((s) => name.startsWith((s as { username: string }).username));
        // The API and the scheduler talk to PostgreSQL only: no Kafka principal of their own.
        return service ? kafkaEnv(service) : {};
      },
    }));
  }, 120_000);

  afterAll(async () => {
    await group.killAll();
    await database?.drop().catch(() => undefined);
  }, 60_000);

  it.each(sharedScenarioFiles().map((file) => [basename(file, '.json')]))(
    '%s passes',
    async (name) => {
      const lines: string[] = [];
      const result = await runScenario(readScenarioFile(sharedScenarioFile(name)), {
        baseUrl,
        jwtSecret: JWT_SECRET,
        log: (line) => lines.push(line),
      });
      expect(result.passed ? 'passed' : `${lines.join('\n')}\n\n${group.logs()}`).toBe('passed');
    },
    60_000,
  );

  it('stops a process with a wrong password at once, saying which settings to check', async () => {
    const started = Date.now();
    const relayWithWrongPassword = spawn(process.execPath, [builtEntry('apps/relay/src/main.js')], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: database!.url,
        KAFKA_BROKERS: broker.brokers.join(','),
        ...kafkaEnv(relay),
        KAFKA_SASL_PASSWORD: 'not-the-relay-password',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    relayWithWrongPassword.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    relayWithWrongPassword.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => relayWithWrongPassword.kill('SIGKILL'), 30_000);
      relayWithWrongPassword.on('exit', (exitCode) => {
        clearTimeout(timer);
        done(exitCode);
      });
    });

    expect({ code, output }).toEqual({
      code: 1,
      output: expect.stringContaining(
        'Kafka refused the SASL credentials of user "relay" (scram-sha-512): check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD',
      ),
    });
    // Fails fast: no retry loop (the client's own retries would take about a minute).
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);
});

describe('broker ACLs: each ministry reads its own feed and nothing else', () => {
  beforeAll(async () => {
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
    // The events topic is the real relay's: nothing is written to it here.
    for (const [name, topic] of Object.entries(TOPICS).filter(([name]) => name !== 'events')) {
      const producer = asRelay.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
        // Within the relay's transactional ids (`truceline-relay…`), apart from the real relays'.
        transactionalId: `truceline-relay.acl-probe.${name}`,
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
  }, 60_000);

  it('lets GB read a topic of its prefix truceline.feed.gb. in a group of its prefix', async () => {
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

  it('refuses GB on a topic of the FR prefix', async () => {
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

function saslUser(sasl: SASLOptions): { name: string; password: string } {
  const { username, password } = sasl as { username: string; password: string };
  return { name: username, password };
}
