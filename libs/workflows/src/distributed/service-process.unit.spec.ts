import { loadConfig } from '@truceline/config';
import {
  DistributedConfigError,
  eventHandlerOf,
  RunningService,
  ServiceDefinition,
  ServiceWorker,
} from './service-process';

const SECRET = 'service-process-unit-secret-of-32-chars';

describe(RunningService.name, () => {
  const definition: ServiceDefinition = {
    name: 'verification',
    defaultMetricsPort: 9464,
    consumes: () => true,
    create: () => {
      throw new Error('must not be reached: nothing opens before the check');
    },
  };

  it.each([
    ['without KAFKA_BROKERS', { DATABASE_URL: 'postgres://u:p@db:5432/truceline' }],
    ['without DATABASE_URL (PGlite is single-process)', { KAFKA_BROKERS: '127.0.0.1:9092' }],
  ])('refuses to start %s, naming what is missing', async (_why, env) => {
    const config = loadConfig({ TRUCELINE_JWT_SECRET: SECRET, ...env });

    const sut = RunningService.start(definition, config);

    await expect(sut).rejects.toThrow(DistributedConfigError);
    await expect(sut).rejects.toThrow(/verification .*KAFKA_BROKERS.*DATABASE_URL/s);
  });
});

describe('a service that follows the clock, not the log', () => {
  const timed: ServiceDefinition = {
    name: 'scheduler',
    defaultMetricsPort: 9467,
    consumes: null,
    create: () => {
      throw new Error('must not be reached: nothing opens before the check');
    },
  };

  it('needs DATABASE_URL but no KAFKA_BROKERS', async () => {
    const config = loadConfig({ TRUCELINE_JWT_SECRET: SECRET });

    const sut = RunningService.start(timed, config);

    await expect(sut).rejects.toThrow(DistributedConfigError);
    await expect(sut).rejects.toThrow(/scheduler .*DATABASE_URL/s);
    await expect(sut).rejects.not.toThrow(/KAFKA_BROKERS/);
  });

  it('is fed no events', () => {
    expect(eventHandlerOf(timed, { start: () => undefined })).toBeNull();
  });
});

describe(eventHandlerOf.name, () => {
  const event = (type: string) => ({ type }) as Parameters<NonNullable<ServiceWorker['handle']>>[0];

  it('passes on only the types the service consumes', async () => {
    const seen: string[] = [];
    const handle = eventHandlerOf(
      { name: 'x', defaultMetricsPort: 1, consumes: (t) => t === 'A', create: () => ({}) },
      { handle: async (e) => void seen.push(e.type) },
    );

    await handle?.(event('A'));
    await handle?.(event('B'));

    expect(seen).toEqual(['A']);
  });

  it('refuses a consuming service without a handler', () => {
    expect(() =>
      eventHandlerOf(
        { name: 'x', defaultMetricsPort: 1, consumes: () => true, create: () => ({}) },
        {},
      ),
    ).toThrow(/x consumes events but has no handler/);
  });
});
