import { loadConfig } from '@truceline/config';
import { createLogger, startMetricsServer } from '@truceline/messaging';
import { createServiceContext, DeadlineScheduler, ExerciseClock } from '@truceline/workflows';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The deadline scheduler as its own process (distributed mode). Several may run: the
 * DeadlineMissed ids derive from incident and obligation, so each missed obligation is recorded
 * once whoever notices first (SPEC §5).
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({
    service: 'scheduler',
    instance: config.serviceInstance,
    level: config.logLevel,
  });
  if (!config.databaseUrl)
    throw new Error('the scheduler needs DATABASE_URL (the store every process shares)');
  const context = await createServiceContext(config, {
    onError: (message, error) => logger.error({ err: error }, message),
    onWarning: (message) => logger.warn(message),
  });
  const scheduler = new DeadlineScheduler(
    context.incidents,
    context.views,
    context.clock,
    (error) => logger.error({ err: error }, 'deadline pass failed'),
  );
  // A move of the exercise clock made through the API reaches this process within its follow interval.
  if (context.clock instanceof ExerciseClock)
    context.clock.on('advanced', () => void scheduler.tick());
  scheduler.start();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = await startMetricsServer({ registry, port: config.metricsPort ?? 9467 });
  logger.info({ metricsPort: metrics.port }, 'deadline scheduler started');

  const stop = async (signal: string) => {
    logger.info({ signal }, 'scheduler stopping');
    await scheduler.stop();
    await metrics.close();
    await context.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('scheduler failed to start:', error);
  process.exit(1);
});
