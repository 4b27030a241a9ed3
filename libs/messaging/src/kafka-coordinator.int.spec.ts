import { parseBrokers, waitForGroupCoordinator } from './kafka-client';

describe(waitForGroupCoordinator.name, () => {
  it('resolves once the brokers serve consumer groups', async () => {
    const brokers = parseBrokers(process.env.KAFKA_BROKERS ?? '');
    await expect(waitForGroupCoordinator({ brokers, timeoutMs: 30_000 })).resolves.toBeUndefined();
  });

  it('gives up with the last answer when no broker answers', async () => {
    await expect(
      waitForGroupCoordinator({ brokers: ['127.0.0.1:9'], timeoutMs: 500 }),
    ).rejects.toThrow('the brokers cannot serve consumer groups yet');
  });
});
