import type { KafkaSecurity } from '@truceline/config';
import { Kafka, KafkaConfig, logCreator, logLevel, RetryOptions, SASLOptions } from 'kafkajs';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

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

/** Forwards kafkajs log entries to pino, keeping kafkajs' namespace and structured fields. */
export function pinoLogCreator(logger: Logger | undefined): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      if (!logger) return;
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = { component: 'kafkajs', namespace, ...fields };
      if (level === logLevel.ERROR) logger.error(entry, message);
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
