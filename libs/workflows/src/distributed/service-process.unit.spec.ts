import { loadConfig } from '@truceline/config';
import { DistributedConfigError, RunningService, ServiceDefinition } from './service-process';

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
