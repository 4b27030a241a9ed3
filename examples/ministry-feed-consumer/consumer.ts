/**
 * A partner ministry's consumer of its Truceline feed, as a ministry would write it: kafkajs and
 * the official CloudEvents SDK, nothing of Truceline's own code. Prints one line per tier change:
 *
 *   incident <id> reached tier <n> at <time>
 *
 * Environment: KAFKA_BROKERS (comma-separated), PARTNER (e.g. PL), optional KAFKA_USERNAME and
 * KAFKA_PASSWORD (SASL/SCRAM-SHA-256), KAFKA_SSL=true, and GROUP_ID (default
 * `truceline.feed.<partner>.tier-watch`: the ministry's ACLs allow groups of its feed prefix).
 */
import {
  Kafka as CloudEventsKafka,
  type CloudEventV1,
  type KafkaMessage as CloudEventsMessage,
} from 'cloudevents';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export interface FeedOptions {
  brokers: string[];
  partner: string;
  username?: string;
  password?: string;
  ssl?: boolean;
  groupId?: string;
  /** Where each line goes (stdout by default). */
  print?: (line: string) => void;
}

interface TierChanged {
  incidentId: string;
  tier: number;
  previousTier: number | null;
  at: string;
}

/** A feed record back as a CloudEvent (binary content mode: attributes in `ce_` headers). */
export function toCloudEvent(message: KafkaMessage): CloudEventV1<unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = String(Array.isArray(value) ? value[0] : value);
  }
  const value = message.value?.toString() ?? '';
  const record: CloudEventsMessage<string> = {
    headers,
    key: message.key?.toString() ?? '',
    value,
    body: value,
  };
  const event = CloudEventsKafka.toEvent(record);
  if (Array.isArray(event)) throw new Error('a feed record holds one event, not a batch');
  return event as CloudEventV1<unknown>;
}

/** Follows the partner's feed until the returned function is called. */
export async function followFeed(options: FeedOptions): Promise<() => Promise<void>> {
  const partner = options.partner.toLowerCase();
  const print = options.print ?? ((line: string) => console.log(line));
  const kafka = new Kafka({
    clientId: `ministry-${partner}`,
    brokers: options.brokers,
    ssl: options.ssl,
    sasl: options.username
      ? { mechanism: 'scram-sha-256', username: options.username, password: options.password ?? '' }
      : undefined,
    logLevel: logLevel.ERROR,
  });
  const consumer = kafka.consumer({
    groupId: options.groupId ?? `truceline.feed.${partner}.tier-watch`,
  });
  const seen = new Set<string>(); // delivery is at-least-once: deduplicate by ce_id

  await consumer.connect();
  await consumer.subscribe({ topics: [`truceline.feed.${partner}.v1`], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      let event: CloudEventV1<unknown>;
      try {
        event = toCloudEvent(message);
      } catch (error) {
        console.error(`skipped offset ${message.offset}: not a CloudEvent (${String(error)})`);
        return;
      }
      if (event.type !== 'truceline.IncidentTierChanged.v1' || seen.has(event.id)) return;
      seen.add(event.id);
      const change = event.data as TierChanged;
      print(`incident ${change.incidentId} reached tier ${change.tier} at ${change.at}`);
    },
  });
  return () => consumer.disconnect();
}

async function main(): Promise<void> {
  // eslint-disable-next-line no-restricted-properties -- a standalone example reads its own env
  const env = process.env;
  if (!env.KAFKA_BROKERS || !env.PARTNER) {
    throw new Error('set KAFKA_BROKERS (host:port,…) and PARTNER (e.g. PL)');
  }
  const stop = await followFeed({
    brokers: env.KAFKA_BROKERS.split(','),
    partner: env.PARTNER,
    username: env.KAFKA_USERNAME,
    password: env.KAFKA_PASSWORD,
    ssl: env.KAFKA_SSL === 'true',
    groupId: env.GROUP_ID,
  });
  console.error(`following the ${env.PARTNER} feed`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().then(() => process.exit(0)));
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
