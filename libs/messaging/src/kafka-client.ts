import { Kafka, logCreator, logLevel, RetryOptions } from 'kafkajs';
import type { Logger } from 'pino';

export interface CreateKafkaOptions {
  /** `host:port` list, e.g. from KAFKA_BROKERS split on commas. Use 127.0.0.1, not localhost. */
  brokers: string[];
  clientId: string;
  /** kafkajs' own warnings and errors go here; without one they are dropped. */
  logger?: Logger;
  retry?: RetryOptions;
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

/** A kafkajs client with the project's retry and logging settings. */
export function createKafka(options: CreateKafkaOptions): Kafka {
  if (options.brokers.length === 0) throw new Error('createKafka needs at least one broker');
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { ...KAFKA_RETRY, ...options.retry },
    // kafkajs logs every rebalance and reconnection at info: only warn and above are worth a line.
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(options.logger),
  });
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
