import type { KafkaSecurity } from '@truceline/config';
import { Kafka, KafkaConfig, logCreator, logLevel, RetryOptions, SASLOptions } from 'kafkajs';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { retryConcurrentTransactionsQuickly } from './add-partitions-retry';
import { useOnePassProduceEncoding } from './produce-encoding';
import { keepTransactionCoordinators } from './transaction-coordinator';

export interface CreateKafkaOptions {
  /** `host:port` list, e.g. from KAFKA_BROKERS split on commas. Use 127.0.0.1, not localhost. */
  brokers: string[];
  clientId: string;
  /** kafkajs' own warnings and errors go here; without one they are dropped. */
  logger?: Logger;
  retry?: RetryOptions;
  /** SASL and TLS from the validated configuration (KAFKA_SASL_*, KAFKA_SSL_*). */
  security?: KafkaSecurity;
}

/**
 * Retries of the client's requests: about a minute of growing waits, then the error reaches the
 * caller (the relay and the consumers have loops of their own that back off and start over).
 */
export const KAFKA_RETRY: RetryOptions = {
  initialRetryTime: 200,
  maxRetryTime: 10_000,
  retries: 10,
};

/**
 * A kafkajs client with the project's retry, logging and security settings: the one place
 * every process (relay, services, tests) builds its Kafka client from the configuration.
 */
export function createKafka(options: CreateKafkaOptions): Kafka {
  if (options.brokers.length === 0) throw new Error('createKafka needs at least one broker');
  // The same bytes as kafkajs's encoder, at a fraction of its CPU (see produce-encoding.ts).
  useOnePassProduceEncoding();
  // One FindCoordinator per producer, not one before every AddPartitionsToTxn and EndTxn.
  keepTransactionCoordinators();
  // A transaction begun while the broker still finishes the one before: asked again within
  // milliseconds, not after the producer's retry wait.
  retryConcurrentTransactionsQuickly();
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { ...KAFKA_RETRY, ...options.retry },
    ...kafkaSecurityOptions(options.security),
    // kafkajs logs every rebalance and reconnection at info: only warn and above are worth a line.
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(options.logger),
  });
}

/**
 * kafkajs' `sasl` and `ssl` settings (SPEC §8). TLS is on when a CA, certificate or key file is
 * given: the CA alone authenticates the brokers; certificate and key add a client identity.
 * Files are read here, once, when the client is built.
 */
export function kafkaSecurityOptions(
  security: KafkaSecurity | undefined,
): Pick<KafkaConfig, 'sasl' | 'ssl'> {
  if (!security) return {};
  const { sasl, ssl } = security;
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file));
  return {
    // kafkajs types each mechanism separately; the three share these fields.
    ...(sasl ? { sasl: { ...sasl } as SASLOptions } : {}),
    ...(ssl
      ? {
          ssl: {
            rejectUnauthorized: true,
            ...(ssl.caFile ? { ca: [read(ssl.caFile)!] } : {}),
            ...(ssl.certFile ? { cert: read(ssl.certFile) } : {}),
            ...(ssl.keyFile ? { key: read(ssl.keyFile) } : {}),
          },
        }
      : {}),
  };
}

/** Kafka refused this process's credentials or certificates: retrying cannot help. */
export class KafkaAccessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaAccessError';
  }
}

/** Node's codes for a broker certificate that does not verify against the trusted CAs. */
const TLS_CERTIFICATE_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * Connects once before a process starts its work, so that wrong credentials or an untrusted
 * broker certificate stop it at once with a message naming the setting to fix — rather than
 * a retry loop that logs connection errors for ever. A broker that is merely not up yet is
 * waited for (up to `timeoutMs`), as before.
 */
export async function checkKafkaAccess(
  kafka: Kafka,
  security: KafkaSecurity | undefined,
  timeoutMs = 60_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      return;
    } catch (error) {
      const refusal = accessRefusal(error, security);
      if (refusal) throw refusal;
      if (Date.now() >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5_000)));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

function accessRefusal(error: unknown, security: KafkaSecurity | undefined): Error | undefined {
  const e = error as { name?: string; code?: string; message?: string } | null;
  if (e?.name === 'KafkaJSSASLAuthenticationError') {
    const sasl = security?.sasl;
    return new KafkaAccessError(
      `Kafka refused the SASL credentials${sasl ? ` of user "${sasl.username}" (${sasl.mechanism})` : ''}: ` +
        `check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (${e.message})`,
      { cause: error },
    );
  }
  if (e?.code && TLS_CERTIFICATE_ERRORS.has(e.code)) {
    return new KafkaAccessError(
      `the Kafka broker's TLS certificate is not trusted (${e.code}): check KAFKA_SSL_CA_FILE ` +
        'and that the broker address in KAFKA_BROKERS is a name the certificate holds',
      { cause: error },
    );
  }
  return undefined;
}

/**
 * Broker answers that mean "not yet" rather than "wrong": a broker that has just started, a
 * group coordinator or partition leader moving. kafkajs logs them at ERROR and retries; they
 * are logged as what they are (info, `transient: true`), so the log of a healthy start or a
 * rebalance is not a wall of errors. Protocol messages as kafkajs words them.
 */
const TRANSIENT_BROKER_STATES = [
  'The group coordinator is not available',
  'The coordinator is loading and hence can',
  'This is not the correct coordinator for this group',
  'There is no leader for this topic-partition',
  'This server is not the leader for that topic-partition',
  'The group is rebalancing, so a rejoin is needed',
  'This server does not host this topic-partition',
  'The coordinator is not aware of this member',
] as const;

export const isTransientBrokerState = (error: unknown): boolean =>
  typeof error === 'string' && TRANSIENT_BROKER_STATES.some((state) => error.startsWith(state));

/** Forwards kafkajs log entries to pino, keeping kafkajs' namespace and structured fields. */
export function pinoLogCreator(logger: Logger | undefined): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      if (!logger) return;
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = { component: 'kafkajs', namespace, ...fields };
      if (level <= logLevel.WARN && isTransientBrokerState(fields.error))
        logger.info(
          { ...entry, transient: true },
          `transient broker state, retrying: ${String(fields.error)}`,
        );
      else if (level === logLevel.ERROR) logger.error(entry, message);
      else if (level === logLevel.WARN) logger.warn(entry, message);
      else if (level === logLevel.INFO) logger.info(entry, message);
      else logger.debug(entry, message);
    };
}

/** `KAFKA_BROKERS` (comma-separated) as a broker list. */
export const parseBrokers = (value: string): string[] =>
  value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');

export interface TopicSettings {
  numPartitions?: number;
  replicationFactor?: number;
}

/**
 * Creates the topics that do not exist yet and waits for their leaders. A freshly started KRaft
 * broker may briefly answer UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created, which
 * kafkajs's own wait does not retry: retry every retriable answer for up to `timeoutMs`.
 * Resolves true when this call created at least one topic.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: string[],
  settings: TopicSettings = {},
  timeoutMs = 30_000,
): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  let created = false;
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      created =
        (await admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((topic) => ({
            topic,
            numPartitions: settings.numPartitions ?? 12,
            replicationFactor: settings.replicationFactor ?? 1,
          })),
        })) || created;
      return created;
    } catch (error) {
      const retriable = (error as { retriable?: boolean }).retriable === true;
      if (!retriable || Date.now() >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 2_000)));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Waits until the brokers can serve consumer groups: a freshly started broker answers
 * "coordinator not available" until its offsets topic exists. Asked with a client that logs
 * nothing, so the wait itself does not flood the log; throws after `timeoutMs`.
 */
export async function waitForGroupCoordinator(options: {
  brokers: string[];
  timeoutMs?: number;
  onWaiting?: (state: string) => void;
}): Promise<void> {
  const kafka = new Kafka({
    clientId: 'truceline-readiness',
    brokers: options.brokers,
    connectionTimeout: 3_000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    logLevel: logLevel.NOTHING,
  });
  const giveUpAt = Date.now() + (options.timeoutMs ?? 60_000);
  let last = 'no answer';
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      // Any group id: the answer needs the coordinator, which needs the offsets topic.
      await admin.describeGroups(['truceline.readiness']);
      return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
      if (Date.now() >= giveUpAt)
        throw new Error(`the brokers cannot serve consumer groups yet (${last})`);
      options.onWaiting?.(last);
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1_000)));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
