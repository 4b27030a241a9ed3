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
