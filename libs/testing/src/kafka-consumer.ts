import type { ConsumerConfig } from 'kafkajs';

/**
 * Settings for a test's own reader of a topic. kafkajs's `disconnect()` waits for the fetch in
 * flight, and a fetch with nothing new waits on the broker up to `maxWaitTimeInMs` (5 s by
 * default): a spec that reads a topic and then disconnects paid those seconds every time. Most
 * of the relay spec's 137 s went there.
 */
export const TEST_CONSUMER: Partial<ConsumerConfig> = { maxWaitTimeInMs: 250 };
