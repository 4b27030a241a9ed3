import { loadConfig, TrucelineConfig } from '@truceline/config';
import { createLogger, Logger } from '@truceline/messaging';

/** Stops a started process in order (its workers, its endpoint, its database). */
export type StopProcess = () => Promise<void>;

/**
 * The outer shell of a process's main.ts: the environment validated once, JSON logs named after
 * the process; a failure to start exits 1 with the reason; SIGTERM or SIGINT stops it once, in
 * the order its stop says, then exits 0.
 */
export function runProcessMain(
  name: string,
  env: Record<string, string | undefined>,
  start: (config: TrucelineConfig, logger: Logger) => Promise<StopProcess>,
): void {
  const boot = async () => {
    const config = loadConfig(env);
    const logger = createLogger({
      service: name,
      instance: config.serviceInstance,
      level: config.logLevel,
    });
    return { logger, stop: await start(config, logger) };
  };
  boot().then(
    ({ logger, stop }) => {
      let stopping = false;
      const onSignal = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, `${name} stopping`);
        await stop();
        process.exit(0);
      };
      process.once('SIGTERM', () => void onSignal('SIGTERM'));
      process.once('SIGINT', () => void onSignal('SIGINT'));
    },
    (error: unknown) => {
      console.error(`${name} failed to start:`, error);
      process.exit(1);
    },
  );
}
