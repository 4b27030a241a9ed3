import type { TrucelineConfig } from '@truceline/config';
import { Logger, startMetricsServer } from '@truceline/messaging';
import {
  createServiceContext,
  DeadlineScheduler,
  ExerciseClock,
  runProcessMain,
  StopProcess,
} from '@truceline/workflows';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The deadline scheduler as its own process (distributed mode). Several may run: the
 * DeadlineMissed ids derive from incident and obligation, so each missed obligation is recorded
 * once whoever notices first (SPEC §5).
 */
async function start(config: TrucelineConfig, logger: Logger): Promise<StopProcess> {
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

  return async () => {
    await scheduler.stop();
    await metrics.close();
    await context.close();
  };
}

runProcessMain('scheduler', process.env, start);
